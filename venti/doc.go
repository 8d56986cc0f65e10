// Package venti speaks the venti protocol, client and server, as
// plan9port, Plan 9 and 9front do. Nothing here is a promised API.
//
// # Wire format
//
// Each side first writes a version line, "venti-04:02-replfs\n" from us,
// and reads the peer's; both pick the first of our versions the peer
// lists (plan9port src/libventi/version.c). Then messages are framed
// with a big-endian length: 2 bytes under "02", 4 under "04". A body is
//
//	type[1] tag[1] fields...
//
//	Rerror   1  error[s]
//	Tping    2
//	Rping    3
//	Thello   4  version[s] uid[s] strength[1] ncrypto[1] crypto ncodec[1] codec
//	Rhello   5  sid[s] rcrypto[1] rcodec[1]
//	Tgoodbye 6  (no reply; the server hangs up)
//	Tread   12  score[20] type[1] pad[1] count[2 or 4]
//	Rread   13  data
//	Twrite  14  type[1] pad[3] data
//	Rwrite  15  score[20]
//	Tsync   16
//	Rsync   17
//
// where [s] is a 2-byte length and that many bytes (at most 1024).
// Block types travel in the old numbering (src/libventi/dtype.c); see
// Type.DiskType. Thello is the first message, on tag 0, with the chosen
// version. Layouts as plan9port src/libventi/fcall.c.
//
// # Client and server
//
// Conn is a client with up to 256 requests in flight; Server serves a
// Store. Both check what they receive: a client verifies every block
// and score against SHA-1, a server answers every request it can parse
// (plan9port's drops malformed ones silently).
package venti
