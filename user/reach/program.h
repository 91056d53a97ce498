/* The program an interpreter runs: for a service started as
 * "python3 /srv/app/main.py", "node server.js", "ruby app.rb", "perl x.pl"
 * or "java -jar app.jar", its software version is the program file, not the
 * interpreter binary (upgrading the application changes the script, not
 * python3). The automatic host epoch (agent/pipeline.c) is then named
 * "<program basename>@<first 12 hex digits of the file's SHA-256>".
 * A program given inline (-c, -e) or as a module (-m) has no file: the
 * interpreter's executable stays the epoch. */
#ifndef REACH_PROGRAM_H
#define REACH_PROGRAM_H

#include <stddef.h>

/* The program file among args (the exec's argv, NUL-separated, len bytes,
 * argv[0] first) when exe is an interpreter: 0 with the path as written
 * (maybe relative) in out; -ENOENT when exe is no interpreter or runs no
 * file; -ENAMETOOLONG. */
int program_path(const char *exe, const char *args, size_t len, char *out, size_t out_size);

/* The first 12 hex digits of the SHA-256 of the file at path (read with a
 * bound of 16 MiB: a larger file is hashed over its first 16 MiB). 0 or
 * -errno. hex: at least 13 bytes. */
int program_hash(const char *path, char *hex, size_t hex_size);

#endif
