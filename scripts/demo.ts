/**
 * `npm run demo`: the library's main job, end to end, on a throwaway local
 * micro cluster (or the cluster CEPH_CONF names). Prints what it does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Image, Rados, Rbd } from '../lib';
import { cinderDemo } from './demo-cinder';
import { glanceDemo } from './demo-glance';

const root = path.resolve(__dirname, '..', '..');
const microOsd = path.join(root, 'scripts', 'micro-osd.sh');
const MiB = 1024 * 1024;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function withCluster(fn: (confFile: string) => Promise<void>): Promise<void> {
  if (process.env.CEPH_CONF) {
    say(`using the cluster in CEPH_CONF=${process.env.CEPH_CONF}`);
    return fn(process.env.CEPH_CONF);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-demo-'));
  say(`starting a throwaway micro cluster in ${dir} ...`);
  const t0 = Date.now();
  try {
    execFileSync('bash', [microOsd, 'start', dir, '--memstore-bytes', String(2 * 1024 * MiB), '--pool', 'images'], { stdio: ['ignore', 'ignore', 'inherit'] });
    say(`cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await fn(path.join(dir, 'ceph.conf'));
  } finally {
    say('stopping the micro cluster');
    execFileSync('bash', [microOsd, 'stop', dir, '--purge'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

async function basicImage(cluster: Rados): Promise<void> {
  await using ioctx = await cluster.openIoctx('rbd');
  const name = `demo-${process.pid}`;
  const size = 64 * MiB;
  await Rbd.create(ioctx, name, size, { order: 22 });
  say(`created image rbd/${name} (${size / MiB} MiB, 4 MiB objects)`);
  try {
    const data = randomBytes(16 * MiB);
    const written = createHash('sha256').update(data).digest('hex');
    {
      await using image = await Image.open(ioctx, name);
      const chunk = 4 * MiB;
      const t0 = process.hrtime.bigint();
      await Promise.all(Array.from({ length: data.length / chunk }, (_, i) => image.aioWrite(data.subarray(i * chunk, (i + 1) * chunk), i * chunk)));
      await image.flush();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      say(`wrote 16 MiB with 4 pipelined aio writes in ${ms.toFixed(0)} ms; sha256 ${written.slice(0, 16)}…`);
      const back = await image.read(0, data.length);
      const read = createHash('sha256').update(back).digest('hex');
      say(`read it back: sha256 ${read.slice(0, 16)}… ${read === written ? 'matches' : 'DIFFERS'}`);
      if (read !== written) throw new Error('read-back checksum differs');
      const st = await image.stat();
      say(`stat: size ${st.size / MiB} MiB, ${st.numObjs} objects of ${st.objSize / MiB} MiB, prefix ${st.blockNamePrefix}`);
    }
  } finally {
    await Rbd.remove(ioctx, name);
    say(`removed rbd/${name}`);
  }
}

async function main(): Promise<void> {
  await withCluster(async (confFile) => {
    await using cluster = await Rados.connect({ confFile, timeoutMs: 30_000 });
    say(`connected: fsid ${cluster.clusterFsid}, librbd ${Object.values(Rbd.version()).join('.')}`);
    await basicImage(cluster);
    await glanceDemo(confFile, say);
    await cinderDemo(cluster, confFile, say);
  });
  say('demo finished');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
