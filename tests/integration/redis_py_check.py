#!/usr/bin/python3
# tests/integration/redis_py_check.py — redis-py (Debian's python3-redis)
# against a running modhostd with the resp codec and the kv handler: what an
# application written for Redis does, through the most used client library.
# check_resp.c starts the daemon and runs this; every check is an assert,
# and the last line says how many passed.
#
# usage: redis_py_check.py PORT
import sys
import threading

import redis

checks = 0


def check(cond, what):
    global checks
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)
    checks += 1


def expect_error(fn, words, what):
    try:
        fn()
    except redis.ResponseError as e:
        check(words in str(e), f"{what}: error '{e}' lacks '{words}'")
        return
    check(False, f"{what}: no error")


def in_threads(fn, n):
    """Run fn(errors) in n threads at once; returns what they appended."""
    errors = []
    threads = [threading.Thread(target=fn, args=(errors,)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


port = int(sys.argv[1])
r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)

check(r.ping() is True, "PING")
check(r.flushall() is True, "FLUSHALL")
check(r.set("greeting", "hello", ex=100) is True, "SET EX")
check(r.get("greeting") == b"hello", "GET")
check(90 <= r.ttl("greeting") <= 100, "TTL")
check(r.set("greeting", "x", nx=True) is None, "SET NX on an existing key")
binary = bytes(range(256)) * 4
check(r.set(b"bin\x00key", binary) and r.get(b"bin\x00key") == binary, "binary key and value")
check(r.incr("n") == 1 and r.incrby("n", 41) == 42 and r.decr("n") == 41, "INCR family")
expect_error(lambda: r.incr("greeting"), "not an integer", "INCR of a string")
check(r.mset({"a": "1", "b": "2"}) and r.mget("a", "b", "none") == [b"1", b"2", None], "MSET/MGET")
check(r.getset("a", "3") == b"1" and r.getdel("a") == b"3" and r.exists("a") == 0,
      "GETSET, GETDEL, EXISTS")
check(r.append("s", "ab") == 2 and r.append("s", "cd") == 4 and r.getrange("s", 1, 2) == b"bc",
      "APPEND, GETRANGE")
check(r.expire("b", 50) and r.persist("b") and r.ttl("b") == -1, "EXPIRE, PERSIST")
check(r.rename("b", "c") and r.get("c") == b"2", "RENAME")
check(r.type("c") == b"string", "TYPE")

# A pipeline without a transaction: many commands, one round trip.
p = r.pipeline(transaction=False)
for i in range(500):
    p.set(f"key:{i}", i)
check(p.execute() == [True] * 500, "pipeline of 500 SETs")
want = sorted(f"key:{i}".encode() for i in range(500) if str(i).startswith("4"))
check(sorted(r.scan_iter(match="key:4*", count=50)) == want, "SCAN MATCH through scan_iter")
check(r.dbsize() == 500 + 5, "DBSIZE")

# pipeline() is MULTI/EXEC: atomic, one reply per queued command.
p = r.pipeline()
p.set("tx", 10).incrby("tx", 5).get("tx").expire("tx", 100).ttl("tx")
res = p.execute()
check(res[:4] == [True, 15, b"15", True] and 90 <= res[4] <= 100, f"MULTI/EXEC {res}")
p = r.pipeline()
p.set("tx2", "v").incr("tx2").set("tx3", "w")
expect_error(p.execute, "not an integer", "an error inside EXEC")
check(r.get("tx3") == b"w", "the commands after the failed one still ran")


# WATCH: a read-modify-write with optimistic locking (redis-py retries on
# WatchError) from several connections loses no update.
def cas_worker(errors):
    c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)

    def bump(pipe):
        v = int(pipe.get("cas") or 0)
        pipe.multi()
        pipe.set("cas", v + 1)

    try:
        for _ in range(50):
            c.transaction(bump, "cas")
    except Exception as e:  # noqa: BLE001 - any failure is reported
        errors.append(repr(e))


errors = in_threads(cas_worker, 4)
check(errors == [], f"WATCH transactions: {errors[:3]}")
check(r.get("cas") == b"200", f"200 compare-and-set increments, got {r.get('cas')}")
with r.pipeline() as p:
    p.watch("cas")
    r.set("cas", "changed elsewhere")
    p.multi()
    p.set("cas", "mine")
    try:
        p.execute()
        check(False, "EXEC ran after a watched key changed")
    except redis.WatchError:
        check(r.get("cas") == b"changed elsewhere", "the aborted EXEC ran nothing")


# Transactions from several connections at once (the pool spreads them
# over the workers): every EXEC's INCRs are consecutive.
def worker(errors):
    c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    for _ in range(100):
        p = c.pipeline()
        for _ in range(5):
            p.incr("shared")
        v = p.execute()
        if v != list(range(v[0], v[0] + 5)):
            errors.append(v)


errors = in_threads(worker, 4)
check(errors == [], f"interleaved transactions: {errors[:3]}")
check(r.get("shared") == b"2000", "all 2000 INCRs counted")

info = r.info()
check(info["redis_version"] and info["role"] == "master" and info["loading"] == 0, "INFO server")
check(info["connected_clients"] >= 1 and info["total_commands_processed"] > 600,
      "INFO clients and stats")
check(info["db0"]["keys"] == r.dbsize(), "INFO keyspace")
check(r.delete("c", "n", "nothing") == 2, "DEL")
check(r.flushall() and r.dbsize() == 0, "FLUSHALL")
print(f"redis-py {redis.__version__}: {checks} checks passed")
