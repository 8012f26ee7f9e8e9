#!/usr/bin/python3
"""The benchmark's real peer: Debian's glance_store (python3-glance-store),
its RBD driver glance_store._drivers.rbd.Store, configured through
oslo.config for the bench's cluster the way glance-api configures it.
Prints one JSON object on stdout.

  add CONF POOL USER CHUNK_MIB NAME FILE
      Store.add(NAME, FILE opened 'rb', its size, hashing_algo='sha512'):
      md5 + sha512 as Glance computes them. 'seconds' is the whole call
      (it connects, creates, writes, snapshots, protects, disconnects).
  get CONF POOL USER CHUNK_MIB LOCATION [md5]
      Store.get(LOCATION) and the whole iterator drained and dropped (a null
      sink); with 'md5' the data is hashed too (the bench's check run, not
      timed). 'seconds' is from get() to the last chunk.
  version
      glance_store's and Python's versions.

The driver is not changed. To time its steps, the module's 'rados' and 'rbd'
names are replaced by thin wrappers that take a timestamp around
Rados.connect, RBD.create, the first and last Image.write, create_snap and
protect_snap, and set rbd_cache=false on every connection (the bench's
setting for every client) before it connects.
"""
import hashlib
import json
import os
import sys
import time
import types

import rados
import rbd
from oslo_config import cfg

import glance_store
from glance_store import location as gs_location
from glance_store._drivers import rbd as rbd_driver

marks = {}
connect_seconds = [0.0]


def mark(key, first=False):
    now = time.perf_counter()
    if first and key in marks:
        return
    marks[key] = now


def timed_rados():
    """The rados module with Rados() connecting through a timer, no cache."""
    def make(*args, **kwargs):
        client = rados.Rados(*args, **kwargs)
        client.conf_set('rbd_cache', 'false')
        real_connect = client.connect

        class Client:
            def __getattr__(self, name):
                return getattr(client, name)

            def connect(self, *a, **kw):
                t0 = time.perf_counter()
                try:
                    return real_connect(*a, **kw)
                finally:
                    connect_seconds[0] += time.perf_counter() - t0
        return Client()
    mod = types.ModuleType('rados_timed')
    mod.__dict__.update(rados.__dict__)
    mod.Rados = make
    return mod


class TimedImage:
    """rbd.Image with timestamps around writes and the snapshot steps."""

    def __init__(self, *args, **kwargs):
        self._image = rbd.Image(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._image, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._image.__exit__(*exc)

    def write(self, data, offset, *a, **kw):
        mark('firstWrite', first=True)
        n = self._image.write(data, offset, *a, **kw)
        mark('lastWriteDone')
        return n

    def create_snap(self, *a, **kw):
        mark('snapStart')
        return self._image.create_snap(*a, **kw)

    def protect_snap(self, *a, **kw):
        n = self._image.protect_snap(*a, **kw)
        mark('protected')
        return n


class TimedRBD:
    def __init__(self):
        self._rbd = rbd.RBD()

    def __getattr__(self, name):
        return getattr(self._rbd, name)

    def create(self, *a, **kw):
        mark('createStart')
        return self._rbd.create(*a, **kw)


def instrument():
    timed_rbd = types.ModuleType('rbd_timed')
    timed_rbd.__dict__.update(rbd.__dict__)
    timed_rbd.Image = TimedImage
    timed_rbd.RBD = TimedRBD
    rbd_driver.rbd = timed_rbd
    rbd_driver.rados = timed_rados()


def open_store(conf_file, pool, user, chunk_mib):
    conf = cfg.ConfigOpts()
    store = rbd_driver.Store(conf)  # registers the driver's options
    conf([], project='glance', default_config_files=[])
    for key, value in (('rbd_store_pool', pool), ('rbd_store_ceph_conf', conf_file),
                       ('rbd_store_chunk_size', chunk_mib), ('rbd_store_user', user)):
        conf.set_override(key, value, group='glance_store')
    store.configure(re_raise_bsc=True)
    return conf, store


def span(a, b):
    if a in marks and b in marks:
        return marks[b] - marks[a]
    return None


def add(conf_file, pool, user, chunk_mib, name, path):
    _, store = open_store(conf_file, pool, user, chunk_mib)
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        c0 = time.process_time()
        t0 = time.perf_counter()
        uri, written, md5, multihash, _ = store.add(name, f, size, hashing_algo='sha512')
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - c0
    print(json.dumps({
        'seconds': seconds, 'cpuSeconds': cpu, 'bytes': written, 'md5': md5, 'sha512': multihash,
        'location': uri, 'connectSeconds': connect_seconds[0],
        # create → first write, first write → snapshot start, snapshot → protected
        'setupSeconds': span('createStart', 'firstWrite'),
        'dataSeconds': span('firstWrite', 'snapStart'),
        'finishSeconds': span('snapStart', 'protected'),
    }))


def get(conf_file, pool, user, chunk_mib, uri, want_md5):
    conf, store = open_store(conf_file, pool, user, chunk_mib)
    loc = gs_location.Location('rbd', rbd_driver.StoreLocation, conf, uri=uri)
    md5 = hashlib.md5() if want_md5 else None
    n = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    chunks, size = store.get(loc)
    for chunk in chunks:
        n += len(chunk)
        if md5 is not None:
            md5.update(chunk)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(json.dumps({'seconds': seconds, 'cpuSeconds': cpu, 'bytes': n, 'size': size,
                      'connectSeconds': connect_seconds[0],
                      'md5': md5.hexdigest() if md5 is not None else None}))


def version():
    info = {'python': sys.version.split()[0]}
    try:
        from importlib import metadata
        info['glance_store'] = metadata.version('glance_store')
    except Exception:  # noqa: BLE001 - a missing dist-info only loses the version
        info['glance_store'] = getattr(glance_store, '__version__', None)
    print(json.dumps(info))


def main(argv):
    instrument()
    if len(argv) >= 7 and argv[0] == 'add':
        add(argv[1], argv[2], argv[3], int(argv[4]), argv[5], argv[6])
    elif len(argv) >= 6 and argv[0] == 'get':
        get(argv[1], argv[2], argv[3], int(argv[4]), argv[5], len(argv) > 6 and argv[6] == 'md5')
    elif len(argv) >= 1 and argv[0] == 'version':
        version()
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
