"""Accepts TCP connections on [::]:PORT (dual stack) and closes them at once:
the far end of connect loops. A deep backlog so a burst never sees SYN drops."""
import socket
import sys

s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", int(sys.argv[1])))
s.listen(4096)
while True:
    c, _ = s.accept()
    c.close()
