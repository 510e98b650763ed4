# A stand-in for systemd's notification socket: binds an AF_UNIX datagram socket (Node cannot),
# prints every message as a JSON line, and acknowledges BARRIER=1 the way systemd does: by
# closing the file descriptor that comes with it.
import array, json, os, socket, sys

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
print(json.dumps({"bound": path}), flush=True)
while True:
    msg, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    fds = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            a = array.array("i")
            a.frombytes(data[: len(data) - (len(data) % a.itemsize)])
            fds.extend(a)
    for fd in fds:
        os.close(fd)
    print(json.dumps({"message": msg.decode("utf-8", "replace"), "fds": len(fds)}), flush=True)
