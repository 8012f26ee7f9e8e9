/**
 * Schema migrations, in order; Kysely's Migrator records which ran (table
 * `kysely_migration`). Column types are the common subset of SQLite and
 * PostgreSQL: text, integer, bigint.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';

const now = 'text';

const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('volumes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('description', 'text')
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('volume_type_id', 'text')
        .addColumn('snapshot_id', 'text')
        .addColumn('source_volid', 'text')
        .addColumn('image_id', 'text')
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('bootable', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .addColumn('claim', 'text')
        .addColumn('created_at', now, (c) => c.notNull())
        .addColumn('updated_at', now, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('volumes_project').on('volumes').columns(['project_id', 'created_at']).execute();
      await db.schema
        .createTable('snapshots')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('volume_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('description', 'text')
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('error', 'text')
        .addColumn('claim', 'text')
        .addColumn('created_at', now, (c) => c.notNull())
        .addColumn('updated_at', now, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('snapshots_volume').on('snapshots').column('volume_id').execute();
      await db.schema
        .createTable('images')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('visibility', 'text', (c) => c.notNull())
        .addColumn('disk_format', 'text')
        .addColumn('container_format', 'text')
        .addColumn('size', 'bigint')
        .addColumn('virtual_size', 'bigint')
        .addColumn('checksum', 'text')
        .addColumn('os_hash_algo', 'text')
        .addColumn('os_hash_value', 'text')
        .addColumn('min_disk', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('min_ram', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('location', 'text')
        .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('claim', 'text')
        .addColumn('created_at', now, (c) => c.notNull())
        .addColumn('updated_at', now, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('volume_types')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text')
        .addColumn('is_public', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('extra_specs', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('qos_specs_id', 'text')
        .addColumn('created_at', now, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('qos_specs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('specs', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', now, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('quotas')
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('hard_limit', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('quotas_pk', ['project_id', 'resource'])
        .execute();
      await db.schema
        .createTable('quota_usages')
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('in_use', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('reserved', 'bigint', (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint('quota_usages_pk', ['project_id', 'resource'])
        .execute();
      await db.schema
        .createTable('reservations')
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('project_id', 'text', (c) => c.notNull())
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('delta', 'bigint', (c) => c.notNull())
        .addColumn('created_at', now, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('reservations_id').on('reservations').column('id').execute();
    },
  },
  // One row per running service: its claim token and heartbeat (milliseconds since the epoch, the database's clock).
  '0002_services': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('services')
        .addColumn('token', 'text', (c) => c.primaryKey())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  // The record an open reservation belongs to (`table/id`): whoever finishes its operation settles it.
  '0003_reservation_owner': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('reservations').addColumn('owner', 'text').execute();
      await db.schema.createIndex('reservations_owner').on('reservations').column('owner').execute();
    },
  },
};

class StaticProvider implements MigrationProvider {
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrations);
  }
}

/** Brings the schema up to date; throws the migration's error when one fails. */
export async function migrate(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
