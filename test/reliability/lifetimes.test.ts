/** Lifetimes and memory, long versions (npm run test:reliability), on a throwaway cluster. */
import { closeWhileBusy, cycles } from './lifetimes';
import { FaultCluster, GiB } from './support';

describe('reliability: lifetimes (long)', function () {
  this.timeout(900_000);
  let c: FaultCluster;
  before(async () => {
    c = await FaultCluster.start(['--memstore-bytes', String(GiB)]);
  });
  after(async () => {
    await c?.stop();
  });

  it('close/shutdown while busy, double close, every method after close', () => closeWhileBusy(c.confFile, 'rbd', 'long'));

  it('10,000 open/write/close cycles (+ 1,000 collected images, 100 connections): no fd or memory growth', () => cycles(c.confFile, 'rbd', 10_000, 8, 'long'));
});
