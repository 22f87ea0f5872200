# The keeper Flaky.FailsFirstTime (tests/fixtures) asks whether it ran
# before: python3 state_keeper.py PORT DIR serves 127.0.0.1:PORT, answering
# '0' and leaving the marker DIR/Flaky.FailsFirstTime the first time, then
# '1' while the marker is there (rm it to make the test fail again). The
# state lives here because a sandboxed test keeps nothing between runs.
# Once it listens it leaves DIR/listening (wait for that before a test asks).
import os
import socket
import sys

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(16)
open(os.path.join(sys.argv[2], "listening"), "w").close()
marker = os.path.join(sys.argv[2], "Flaky.FailsFirstTime")
while True:
    conn, _ = server.accept()
    ran = os.path.exists(marker)
    if not ran:
        open(marker, "w").close()
    conn.sendall(b"1" if ran else b"0")
    conn.close()
