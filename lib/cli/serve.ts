/**
 * `ceph-rbd serve`: the Block Storage v3 and Image v2 APIs over the library
 * (lib/serve). Prints one line `listening volume=URL image=URL` when ready and
 * runs until SIGINT/SIGTERM, then stops accepting requests, lets running
 * operations finish and exits 0.
 */
import { Command, Option } from 'commander';

import { addCommonOptions, commonOptions, parseInteger, target, UsageError } from './common';

interface ServeOpts {
  dataDir?: string;
  db?: string;
  host: string;
  volumePort: number;
  imagePort: number;
  volumePool: string;
  imagePool: string;
  heartbeatInterval?: number;
  lease?: number;
}

export function registerServe(program: Command): void {
  const cmd = new Command('serve')
    .description('serve the Block Storage v3 and Image v2 APIs (noauth: Keystone tokens are not validated)')
    .addOption(new Option('--data-dir <dir>', 'directory of the service state (SQLite database)').makeOptionMandatory())
    .addOption(new Option('--db <url>', 'database URL: postgres://… (several services), sqlite:PATH (default: DATA_DIR/ceph-rbd-serve.sqlite)'))
    .addOption(new Option('--host <addr>', 'address to bind').default('127.0.0.1'))
    .addOption(new Option('--volume-port <port>', 'Block Storage API port (0: any free port)').default(8776).argParser(parseInteger(0, 65535)))
    .addOption(new Option('--image-port <port>', 'Image API port (0: any free port)').default(9292).argParser(parseInteger(0, 65535)))
    .addOption(new Option('--volume-pool <pool>', 'pool of the volumes').default('volumes'))
    .addOption(new Option('--image-pool <pool>', 'pool of the images').default('images'))
    .addOption(new Option('--heartbeat-interval <ms>', "how often the service's heartbeat is written and dead services' claims are looked for (default: 5000)").argParser(parseInteger(100)))
    .addOption(new Option('--lease <ms>', "a service whose heartbeat is older than this is dead: its claims are taken over (default: 3 x the heartbeat interval)").argParser(parseInteger(101)))
    .action(async (_o: ServeOpts, c: Command) => {
      const o = c.opts<ServeOpts>();
      const common = commonOptions(c);
      const t = target(common);
      if (o.db !== undefined && !/^(postgres(ql)?:\/\/|sqlite:)/.test(o.db)) throw new UsageError(`--db must be a postgres:// or sqlite: URL, got '${o.db}'`);
      if (o.lease !== undefined && o.lease <= (o.heartbeatInterval ?? 5000)) throw new UsageError(`--lease (${o.lease} ms) must be longer than the heartbeat interval (${o.heartbeatInterval ?? 5000} ms)`);
      // Loaded here only: `ceph-rbd` commands other than serve never load Fastify or the database drivers.
      const { createServer } = await import('../serve/server.js');
      const server = await createServer({
        dataDir: o.dataDir!,
        ...(o.db !== undefined ? { db: o.db } : {}),
        ...(t.confFile !== undefined ? { confFile: t.confFile } : {}),
        ...(t.clientId !== undefined ? { user: t.clientId } : {}),
        host: o.host,
        volumePort: o.volumePort,
        imagePort: o.imagePort,
        volumePool: o.volumePool,
        imagePool: o.imagePool,
        ...(o.heartbeatInterval !== undefined ? { heartbeatMs: o.heartbeatInterval } : {}),
        ...(o.lease !== undefined ? { leaseMs: o.lease } : {}),
        // Warnings and errors on stderr; --verbose: everything, through the library's logger.
        ...(common.verbose ? {} : { logger: { error: (m: string) => process.stderr.write(`error ${m}\n`), warn: (m: string) => process.stderr.write(`warn ${m}\n`) } }),
      });
      process.stdout.write(`listening volume=${server.volumeUrl} image=${server.imageUrl}\n`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve(s));
      });
      process.stderr.write(`ceph-rbd serve: ${signal}: stopping\n`);
      await server.close();
    });
  addCommonOptions(cmd);
  program.addCommand(cmd);
}
