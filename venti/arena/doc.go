// Package arena reads and writes venti arena partitions in plan9port's
// format, and is the durable Store behind `replfs venti serve`. Nothing
// here is a promised API.
//
// # Partition
//
// Layouts as plan9port src/cmd/venti/srv/dat.h and conv.c. All integers
// are big-endian.
//
//	0        PartBlank (256 KiB), untouched
//	256 KiB  ArenaPart header: magic a9e4a5e7, version 3, blocksize, arenabase
//	tabbase  the arena map, text: "n\n" then "name\tstart\tstop\n" per arena
//	arenabase  arenas, back to back
//
// # Arena [start, stop), block size B
//
//	start        head: magic d15c4ead, version, name[64], blocksize, size[8], clumpmagic (v5)
//	start+B      clump log: clump, clump, ..., then 4 zero bytes
//	...          free
//	stop-B-kB    directory block k-1 (entries of 25 bytes, growing down)
//	stop-B       trailer: magic f2a14ead, version, name, diskstats, ctime,
//	             wtime, clumpmagic (v5), memstats extension; score in the last 20 bytes
//
// A clump is a 38-byte header (magic, type, size, uncsize, score,
// encoding, creator, time) and size bytes of data, whack-compressed when
// encoding is 2. A directory entry is type, size, uncsize, score.
//
// # Reading
//
// OpenPartition and OpenArena read partitions written by plan9port (or
// by Store), even while a venti writes them; Arena.Scan walks a log as
// wrarena does.
//
// # Writing
//
// Format is fmtarenas. Store appends as venti does and keeps its index
// in memory, rebuilt from the directories on Open. It leaves diskstats
// alone, so a plan9port venti given the partition (with fmtisect and
// fmtindex) indexes the new clumps as it starts.
package arena
