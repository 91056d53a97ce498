/* The server name (SNI) of a TLS ClientHello as a client wrote it on a
 * socket: untrusted bytes, maybe cut; every length is checked. */
#ifndef REACH_HTTP_TLS_HELLO_H
#define REACH_HTTP_TLS_HELLO_H

#include <stddef.h>
#include <stdint.h>

/*
 * buf[0..len): a TLS record (type 22) holding a ClientHello. On success
 * out holds the first host_name of the server_name extension, lower case,
 * and 0 is returned. -ENOENT: a whole record holding a hello without SNI;
 * -EBADMSG: not a ClientHello, cut before the SNI (or before the end of a
 * record that has none), or a name that is not a plausible
 * host name ([a-z0-9.-], 1..out_size-1 bytes).
 */
int tls_hello_sni(const uint8_t *buf, size_t len, char *out, size_t out_size);

#endif
