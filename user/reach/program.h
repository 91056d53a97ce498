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

#include <stdbool.h>
#include <stddef.h>

/* The program file among args (the exec's argv, NUL-separated, len bytes,
 * argv[0] first) when exe is an interpreter: 0 with the path as written
 * (maybe relative) in out; -ENOENT when exe is no interpreter or runs no
 * file; -ENAMETOOLONG. */
int program_path(const char *exe, const char *args, size_t len, char *out, size_t out_size);

/* Whether exe is an interpreter, runtime or package launcher (python*,
 * node, ruby*, perl*, java, npx, uvx, bunx): what it runs
 * is told by its program, not by the executable alone. */
bool program_is_interpreter(const char *exe);

/* The name of the program an interpreter runs, for a process's identity in
 * lineage, tool edges and findings ("/usr/bin/node server-filesystem"): the
 * package a program file lives in (node_modules, site-packages), else the
 * file's base name; python -m's module; the package npx/uvx/bunx (or node
 * running npx) was asked for, without scope or version. One token: no
 * spaces or control characters. 0, or -ENOENT (no interpreter, inline code,
 * nothing to name). Never a path: the argv's values stay unstored. */
int program_name(const char *exe, const char *args, size_t len, char *out, size_t out_size);

/* The first 12 hex digits of the SHA-256 of the file at path (read with a
 * bound of 16 MiB: a larger file is hashed over its first 16 MiB). 0 or
 * -errno. hex: at least 13 bytes. */
int program_hash(const char *path, char *hex, size_t hex_size);

#endif
