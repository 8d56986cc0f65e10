// Replfs replicates Plan 9 venti arenas and fossil root scores. See
// replfs(4), docs/replfs.4, for the whole manual.
//
// Usage:
//
//	replfs [-AD] [-F fossil]... [-P peers] [-S size] [-V ventiaddr] [-a addr]... [-c conns] [-d statedir] [-h httpaddr] [-i idle] [-n name] [-s name]
//	replfs id [-d statedir] [-n name]
//	replfs 9p [-a addr | -s service] [-d statedir] [-P peers] read|write|ls|stat [service/]path | wait job
//	replfs venti read [-h addr] [-t type] score
//	replfs venti write [-h addr] [-t type] [-z] < data
//	replfs venti sync [-h addr]
//	replfs venti fmt [-y] [-a arenasize] [-b blocksize] [-n nameprefix] [-s size] partition
//	replfs venti serve [-A] [-a addr] [-c conns] [-d statedir] [-h httpaddr] [-i idle] [-n saveevery] [-x indexfile] partition... | s3://bucket/prefix
//	replfs venti check [-x indexfile] partition...
//	replfs venti restore [-d statedir] [-l rootscor] s3://bucket/prefix partition
//	replfs ventiprog [-n] [-w window] [-c conns] [-H srchttp] -p partition -d statedir target...
package main
