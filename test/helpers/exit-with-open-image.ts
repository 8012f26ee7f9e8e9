/** Child process for the lifecycle test: writes, then exits with the image still open. */
import { Image } from '../../lib';
import { connect } from './cluster';

async function main(): Promise<void> {
  const cluster = await connect();
  const ioctx = await cluster.openIoctx('rbd');
  const image = await Image.open(ioctx, process.argv[2]);
  await image.write(Buffer.from('bye'), 0);
  await image.flush();
  process.exit(0); // no close(): the addon's cleanup hook must release everything
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
