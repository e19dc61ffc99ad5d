"""Helpers shared by the Python end-to-end tests (tests/client, tests/subs):
counted checks that stop the test at the first failure, and free loopback
ports. Import with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
    import checks
    from checks import check, fail, free_port
"""
import socket
import sys

count = 0  # checks made so far (for the final "N checks passed" line)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check(cond, msg):
    global count
    count += 1
    if not cond:
        fail(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
