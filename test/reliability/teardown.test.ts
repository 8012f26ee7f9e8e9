/** Environment teardown with calls in flight, long versions (npm run test:reliability). */
import { detachedBuffers, exitWithCallsInFlight, workerTerminated, workerTerminatedWithWatches } from './teardown';
import { FaultCluster, GiB } from './support';

describe('reliability: teardown with calls in flight (long)', function () {
  this.timeout(900_000);
  let c: FaultCluster;
  before(async () => {
    c = await FaultCluster.start(['--memstore-bytes', String(GiB)]);
  });
  after(async () => {
    await c?.stop();
  });

  it('worker.terminate() mid-call, 20 workers in turn: no abort, handles released', () => workerTerminated(c.confFile, 20));
  it('worker.terminate() with rados/rbd watches and rados aio/compound ops in flight, 10 workers: no abort, watches gone', () => workerTerminatedWithWatches(c.confFile, 10));
  it('process.exit() mid-call, 5 times: no watch or exclusive lock outlives the process', async () => {
    for (let i = 0; i < 5; i++) await exitWithCallsInFlight(c.confFile);
  });
  it("a Buffer's ArrayBuffer transferred mid-read/-write: no crash, the call completes", () => detachedBuffers(c.confFile));
});
