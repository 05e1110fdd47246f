#!/usr/bin/env node
/**
 * daos: the DAOS user tool — pool query, containers, their properties, ACLs, snapshots and
 * attributes, POSIX containers (`filesystem`, in daos-filesystem.ts), .h5 files in and out of
 * HDF5 containers (`hdf5`, in daos-hdf5.ts) and Arrow datasets (`arrow`, in daos-arrow.ts) —
 * through the libdaos client (DaosClient). `--embedded DIR` (or DAOS_EMBEDDED=DIR) starts or
 * reopens an embedded system in DIR for the one command and stops it after.
 */
import { type Command, program } from 'commander';
import { DaosError } from '../core/common/errors.js';
import { formatBytes } from '../core/common/units.js';
import type { DaosClient } from '../core/daos/client.js';
import { CONT_PROP_NAMES, contPropsFromDaos, contPropsToDaos } from '../core/daos/cont-prop-names.js';
import type { ContainerType, ContInfo } from '../core/daos/link.js';
import { DaosSystem } from '../embedded/system.js';
import { connect } from '../index.js';
import {
  type CommandOutput,
  embeddedDir,
  formatFields,
  formatTable,
  type GlobalOptions,
  intOption,
  parseKeyValues,
  readAclFile,
  runCommand,
  withCont,
} from './cli-output.js';
import { arrowCommand } from './daos-arrow.js';
import { filesystemCommand } from './daos-filesystem.js';
import { hdf5Command } from './daos-hdf5.js';

type Body = (client: DaosClient, opts: GlobalOptions) => Promise<CommandOutput>;

/** The action of a command: start the system, connect, run, print, stop. */
function act<A extends unknown[]>(make: (...args: A) => Body): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    await runCommand('daos', opts, async () => {
      const body = make(...(args as A));
      const dir = embeddedDir(opts);
      if (dir === undefined) {
        // A running system, through this node's daos_agent.
        const client = await connect({ agentSocket: opts.agentSocket ?? process.env.DAOS_AGENT_SOCKET });
        try {
          return await body(client, opts);
        } finally {
          await client.close();
        }
      }
      const sys = await DaosSystem.start({
        dir,
        engines: intOption(opts.engines, '--engines'),
        targetsPerEngine: intOption(opts.targets, '--targets'),
      });
      try {
        const client = await sys.connect();
        try {
          return await body(client, opts);
        } finally {
          await client.close();
        }
      } finally {
        await sys.stop();
      }
    });
  };
}

function contJson(info: ContInfo) {
  return {
    uuid: info.uuid,
    label: info.label,
    pool: info.pool,
    type: info.type,
    owner: info.owner,
    group: info.group,
    createdMs: info.createdMs,
    properties: contPropsToDaos(info),
    snapshots: info.snapshots.map((s) => ({ epoch: s.epoch.toString(), name: s.name })),
  };
}

function contText(info: ContInfo): string {
  return formatFields([
    ['Container UUID', info.uuid],
    ['Container Label', info.label],
    ['Container Type', info.type],
    ['Pool UUID', info.pool],
    ['Owner', info.owner ?? '-'],
    ['Group', info.group ?? '-'],
    ['Snapshots', String(info.snapshots.length)],
  ]);
}

function aclText(acl: { owner: string; group: string; entries: string[] }): string {
  return [`# Owner: ${acl.owner}`, `# Owner Group: ${acl.group}`, '# Entries:', ...acl.entries].join('\n');
}

program
  .name('daos')
  .description('DAOS user tool (daos-ts)')
  .option('--embedded <dir>', 'act on the embedded system in DIR (env DAOS_EMBEDDED)')
  .option(
    '--agent-socket <path>',
    "daos_agent's socket (env DAOS_AGENT_SOCKET; default /var/run/daos_agent/daos_agent.sock)",
  )
  .option('-j, --json', 'machine-readable output: { response, error, status }')
  .option('--engines <n>', 'a new embedded system: engine ranks (default 1)')
  .option('--targets <n>', 'a new embedded system: targets per engine (default 4)');

// ---- pool ----
const pool = program.command('pool').description('pools (user view)');
pool.command('query <pool>').action(
  act((id: string) => async (client) => {
    const p = await client.connectPool(id, { mode: 'ro' });
    try {
      const q = await p.query();
      const text = [
        `Pool ${q.uuid}, ntarget=${q.targets}, disabled=${q.disabledTargets}, version=${q.mapVersion}`,
        formatFields([
          ['Label', q.label],
          ['Total size', formatBytes(q.totalBytes)],
          ['Free', formatBytes(q.freeBytes)],
          ['Rebuild', q.rebuild.state],
        ]),
      ].join('\n');
      return { json: q, text };
    } finally {
      await p.disconnect();
    }
  }),
);
const listContainers = act((id: string) => async (client) => {
  const p = await client.connectPool(id, { mode: 'ro' });
  try {
    const conts: ContInfo[] = [];
    for await (const c of p.listContainers()) conts.push(c);
    const json = conts.map((c) => ({ uuid: c.uuid, label: c.label, type: c.type }));
    return {
      json,
      text: formatTable(
        ['UUID', 'Label', 'Type'],
        json.map((c) => [c.uuid, c.label, c.type]),
      ),
    };
  } finally {
    await p.disconnect();
  }
});
pool.command('list-containers <pool>').alias('list-cont').action(listContainers);

// ---- container ----
const cont = program.command('container').alias('cont').description('containers');
cont
  .command('create <pool> [label]')
  .option('--label <label>', 'container label (or the second argument)')
  .option('-t, --type <type>', 'POSIX, HDF5, ARROW, PYTHON or UNKNOWN', 'UNKNOWN')
  .option('--oclass <class>', 'default object class, e.g. SX, RP_2G1, EC_2P1GX')
  .option('--chunk-size <size>', 'default array/file chunk size, e.g. 1M')
  .option(
    '--properties <list>',
    `name:value,... of ${['label', 'rd_fac', 'cksum', 'chunk_size', 'oclass'].join(', ')}`,
  )
  .action(
    act(
      (
        poolId: string,
        label: string | undefined,
        o: { label?: string; type: string; oclass?: string; chunkSize?: string; properties?: string },
      ) =>
        async (client) => {
          const props = parseKeyValues(o.properties);
          if (o.oclass !== undefined) props.oclass = o.oclass;
          if (o.chunkSize !== undefined) props.chunk_size = o.chunkSize;
          const { label: propLabel, ...rest } = contPropsFromDaos(props);
          const p = await client.connectPool(poolId, { mode: 'rw' });
          try {
            const info = await p.createContainer({
              label: label ?? o.label ?? propLabel,
              type: o.type.toUpperCase() as ContainerType,
              props: rest,
            });
            return {
              json: contJson(info),
              text: `Successfully created container ${info.uuid}\n${contText(info)}`,
            };
          } finally {
            await p.disconnect();
          }
        },
    ),
  );
cont
  .command('destroy <pool> <cont>')
  .option('-f, --force', 'destroy even if open')
  .action(
    act((poolId: string, contId: string, o: { force?: boolean }) => async (client) => {
      const p = await client.connectPool(poolId, { mode: 'rw' });
      try {
        await p.destroyContainer(contId, { force: o.force });
      } finally {
        await p.disconnect();
      }
      return {
        json: { pool: poolId, cont: contId, destroyed: true },
        text: `Successfully destroyed container ${contId}`,
      };
    }),
  );
cont.command('list <pool>').action(listContainers);
cont.command('query <pool> <cont>').action(
  act(
    (poolId: string, contId: string) => async (client) =>
      withCont(client, poolId, contId, 'ro', async (c) => {
        const info = await c.query();
        return { json: contJson(info), text: contText(info) };
      }),
  ),
);
cont
  .command('get-prop <pool> <cont>')
  .option('--properties <names>', `names, comma-separated (default all: ${CONT_PROP_NAMES.join(', ')})`)
  .action(
    act(
      (poolId: string, contId: string, o: { properties?: string }) => async (client) =>
        withCont(
          client,
          poolId,
          contId,
          'ro',
          async (c) => {
            const all = contPropsToDaos(await c.query());
            const names =
              o.properties === undefined
                ? [...CONT_PROP_NAMES]
                : o.properties.split(',').map((n) => n.trim());
            const props: Record<string, string> = {};
            for (const n of names) {
              if (!(n in all))
                throw new DaosError(
                  'DER_INVAL',
                  `"${n}" is not a container property (${CONT_PROP_NAMES.join(', ')})`,
                );
              props[n] = all[n as keyof typeof all];
            }
            return { json: props, text: formatTable(['Name', 'Value'], Object.entries(props)) };
          },
          { force: true },
        ),
    ),
  );
cont
  .command('set-prop <pool> <cont>')
  .requiredOption('--properties <list>', 'name:value,...')
  .action(
    act(
      (poolId: string, contId: string, o: { properties: string }) => async (client) =>
        withCont(
          client,
          poolId,
          contId,
          'rw',
          async (c) => {
            const update = contPropsFromDaos(parseKeyValues(o.properties));
            await c.setProps(update);
            const info = await c.query();
            return { json: contPropsToDaos(info), text: `Properties were successfully set` };
          },
          { force: true },
        ),
    ),
  );
cont.command('get-acl <pool> <cont>').action(
  act(
    (poolId: string, contId: string) => async (client) =>
      withCont(client, poolId, contId, 'ro', async (c) => {
        const acl = await c.getAcl();
        return { json: acl, text: aclText(acl) };
      }),
  ),
);
cont
  .command('update-acl <pool> <cont>')
  .option('--acl-file <file>', 'entries to add or replace')
  .option('--entry <ace>', 'one entry, e.g. A::bob@:rw')
  .action(
    act(
      (poolId: string, contId: string, o: { aclFile?: string; entry?: string }) => async (client) =>
        withCont(client, poolId, contId, 'rw', async (c) => {
          if ((o.aclFile === undefined) === (o.entry === undefined))
            throw new DaosError('DER_INVAL', 'update-acl needs exactly one of --acl-file and --entry');
          await c.updateAcl(o.entry !== undefined ? [o.entry] : readAclFile(o.aclFile!));
          const acl = await c.getAcl();
          return { json: acl, text: aclText(acl) };
        }),
    ),
  );
cont
  .command('create-snap <pool> <cont>')
  .option('-s, --snap <name>', 'snapshot name')
  .action(
    act(
      (poolId: string, contId: string, o: { snap?: string }) => async (client) =>
        withCont(client, poolId, contId, 'rw', async (c) => {
          const epoch = await c.createSnapshot(o.snap);
          return {
            json: { epoch: epoch.toString(), name: o.snap },
            text: `snapshot/epoch ${epoch} has been created`,
          };
        }),
    ),
  );
cont.command('list-snaps <pool> <cont>').action(
  act(
    (poolId: string, contId: string) => async (client) =>
      withCont(client, poolId, contId, 'ro', async (c) => {
        const snaps: Array<{ epoch: string; name: string }> = [];
        for await (const s of c.listSnapshots()) snaps.push({ epoch: s.epoch.toString(), name: s.name });
        return {
          json: snaps,
          text: formatTable(
            ['Epoch', 'Name'],
            snaps.map((s) => [s.epoch, s.name]),
          ),
        };
      }),
  ),
);
cont
  .command('destroy-snap <pool> <cont>')
  .option('-s, --snap <name>', 'snapshot name')
  .option('-e, --epc <epoch>', 'snapshot epoch')
  .action(
    act(
      (poolId: string, contId: string, o: { snap?: string; epc?: string }) => async (client) =>
        withCont(client, poolId, contId, 'rw', async (c) => {
          if ((o.snap === undefined) === (o.epc === undefined))
            throw new DaosError('DER_INVAL', 'destroy-snap needs exactly one of --snap and --epc');
          let epoch: bigint | undefined;
          if (o.epc !== undefined) {
            if (!/^\d+$/.test(o.epc)) throw new DaosError('DER_INVAL', `epoch "${o.epc}" is not a number`);
            epoch = BigInt(o.epc);
          } else {
            for await (const s of c.listSnapshots()) if (s.name === o.snap) epoch = s.epoch;
            if (epoch === undefined) throw new DaosError('DER_NONEXIST', `no snapshot named "${o.snap}"`);
          }
          await c.destroySnapshot(epoch);
          return { json: { epoch: epoch.toString() }, text: `snapshot/epoch ${epoch} has been destroyed` };
        }),
    ),
  );
cont.command('set-attr <pool> <cont> <name> <value>').action(
  act(
    (poolId: string, contId: string, name: string, value: string) => async (client) =>
      withCont(client, poolId, contId, 'rw', async (c) => {
        await c.setAttrs({ [name]: value });
        return { json: { name, value }, text: '' };
      }),
  ),
);
cont.command('get-attr <pool> <cont> <name>').action(
  act(
    (poolId: string, contId: string, name: string) => async (client) =>
      withCont(client, poolId, contId, 'ro', async (c) => {
        const v = await c.getAttr(name);
        if (v === undefined) throw new DaosError('DER_NONEXIST', `container has no attribute "${name}"`);
        const value = Buffer.from(v).toString('utf8');
        return { json: { name, value }, text: formatTable(['Attribute', 'Value'], [[name, value]]) };
      }),
  ),
);
cont.command('list-attrs <pool> <cont>').action(
  act(
    (poolId: string, contId: string) => async (client) =>
      withCont(client, poolId, contId, 'ro', async (c) => {
        const names = await c.listAttrs();
        return {
          json: names,
          text: formatTable(
            ['Attribute'],
            names.map((n) => [n]),
          ),
        };
      }),
  ),
);

// ---- filesystem ----
program.addCommand(filesystemCommand(act));

// ---- hdf5 ----
program.addCommand(hdf5Command(act));

// ---- arrow ----
program.addCommand(arrowCommand(act));

await program.parseAsync(process.argv);
