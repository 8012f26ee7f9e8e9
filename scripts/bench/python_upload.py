#!/usr/bin/python3
"""The benchmark's Python peer: Ceph's own python3-rbd bindings, used the way
Glance's RBD store uses them. Prints one JSON object on stdout.

  upload CONF POOL NAME FILE CHUNK_BYTES ORDER
      create the image (order, rbd_default_features), write FILE into it one
      chunk at a time, hashing each chunk with hashlib md5 + sha512 on the same
      thread (glance_store's add loop), then create and protect snapshot
      'snap'. Timed from create to protect (the connection is made before).
  calls CONF POOL NAME SECONDS
      per-call cost of the bindings: image.size() and a cached 4 KiB
      image.read() in a loop (librbd's cache on, writeback), calls per second.
  smallio CONF POOL NAME OP QD OPS
      OPS random 4 KiB image.aio_write()s or aio_read()s (OP randwrite or
      randread) with QD in flight, each completion callback letting the next
      one start (how a Python service pipelines I/O with these bindings).
      Timed after 8 untimed operations; operations per second.

Every connection sets rbd_cache=false for uploads (as the bench's other
clients) and rbd_cache=true, rbd_cache_policy=writeback for 'calls'.
"""
import hashlib
import json
import sys
import time

import rados
import rbd


def connect(conf, cache):
    cluster = rados.Rados(conffile=conf)
    if cache:
        cluster.conf_set('rbd_cache', 'true')
        cluster.conf_set('rbd_cache_policy', 'writeback')
    else:
        cluster.conf_set('rbd_cache', 'false')
    cluster.connect()
    return cluster


def upload(conf, pool, name, path, chunk, order):
    cluster = connect(conf, cache=False)
    try:
        ioctx = cluster.open_ioctx(pool)
        try:
            with open(path, 'rb') as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(0)
                t0 = time.perf_counter()
                c0 = time.process_time()
                # features=None: the cluster's rbd_default_features, as Glance does
                rbd.RBD().create(ioctx, name, size, order=order, old_format=False)
                md5 = hashlib.md5()
                sha = hashlib.sha512()
                offset = 0
                with rbd.Image(ioctx, name) as image:
                    while True:
                        data = f.read(chunk)
                        if not data:
                            break
                        image.write(data, offset)
                        offset += len(data)
                        md5.update(data)
                        sha.update(data)
                    image.create_snap('snap')
                    image.protect_snap('snap')
                seconds = time.perf_counter() - t0
                cpu = time.process_time() - c0
        finally:
            ioctx.close()
    finally:
        cluster.shutdown()
    print(json.dumps({'seconds': seconds, 'cpuSeconds': cpu, 'bytes': offset,
                      'md5': md5.hexdigest(), 'sha512': sha.hexdigest()}))


def calls(conf, pool, name, seconds):
    cluster = connect(conf, cache=True)
    out = {}
    try:
        ioctx = cluster.open_ioctx(pool)
        try:
            with rbd.Image(ioctx, name) as image:
                image.read(0, 4096)  # warm the cache
                for label, fn in (('size', image.size), ('read4k', lambda: image.read(0, 4096))):
                    n = 0
                    t0 = time.perf_counter()
                    deadline = t0 + seconds
                    while True:
                        for _ in range(64):
                            fn()
                        n += 64
                        now = time.perf_counter()
                        if now >= deadline:
                            break
                    out[label] = n / (now - t0)
        finally:
            ioctx.close()
    finally:
        cluster.shutdown()
    print(json.dumps(out))


def smallio(conf, pool, name, op, qd, ops):
    import os
    import random
    import threading
    cluster = connect(conf, cache=False)
    try:
        ioctx = cluster.open_ioctx(pool)
        try:
            with rbd.Image(ioctx, name) as image:
                blocks = image.size() // 4096
                data = os.urandom(4096)
                window = threading.Condition()
                state = {'in_flight': 0, 'failed': 0}

                def done(completion, *_):
                    with window:
                        state['in_flight'] -= 1
                        if completion.get_return_value() < 0:
                            state['failed'] += 1
                        window.notify()

                def run(n):
                    for _ in range(n):
                        with window:
                            while state['in_flight'] >= qd:
                                window.wait()
                            state['in_flight'] += 1
                        offset = random.randrange(blocks) * 4096
                        if op == 'randwrite':
                            image.aio_write(data, offset, done)
                        else:
                            image.aio_read(offset, 4096, done)
                    with window:
                        while state['in_flight'] > 0:
                            window.wait()
                    if op == 'randwrite':
                        image.flush()

                run(8)
                t0 = time.perf_counter()
                run(ops)
                seconds = time.perf_counter() - t0
                if state['failed']:
                    raise RuntimeError('%d operations failed' % state['failed'])
        finally:
            ioctx.close()
    finally:
        cluster.shutdown()
    print(json.dumps({'opsPerSec': ops / seconds}))


def main(argv):
    if len(argv) >= 7 and argv[0] == 'upload':
        upload(argv[1], argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]))
    elif len(argv) >= 5 and argv[0] == 'calls':
        calls(argv[1], argv[2], argv[3], float(argv[4]))
    elif len(argv) >= 7 and argv[0] == 'smallio' and argv[4] in ('randwrite', 'randread'):
        smallio(argv[1], argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
