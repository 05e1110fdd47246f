#!/usr/bin/env node
/**
 * dmg: the DAOS management tool — system, storage, pools, pool ACLs and properties, container
 * ownership — over the ControlPlane (control/plane.ts). `--embedded DIR` (or DAOS_EMBEDDED=DIR)
 * starts or reopens an embedded system in DIR for the one command and stops it after.
 */
import { type Command, program } from 'commander';
import { connectControl } from '../control/connect.js';
import { POOL_PROPS } from '../control/mgmt/pool-props.js';
import type { ControlPlane, SystemQuery } from '../control/plane.js';
import { DaosError } from '../core/common/errors.js';
import { formatBytes } from '../core/common/units.js';
import type { PoolQuery } from '../core/daos/link.js';
import {
  type CommandOutput,
  embeddedDir,
  formatFields,
  formatTable,
  type GlobalOptions,
  intOption,
  parseKeyValues,
  parseRanks,
  progressBar,
  readAclFile,
  runCommand,
  serverOptions,
} from './cli-output.js';

type Body = (ctl: ControlPlane, opts: GlobalOptions) => Promise<CommandOutput>;

/** The action of a command: connect, run the body `make(...arguments)` builds, print, disconnect. */
function act<A extends unknown[]>(make: (...args: A) => Body): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    await runCommand('dmg', opts, async () => {
      const body = make(...(args as A));
      const ctl = await connectControl({
        embedded: embeddedDir(opts),
        engines: intOption(opts.engines, '--engines'),
        targetsPerEngine: intOption(opts.targets, '--targets'),
        ...serverOptions(opts),
      });
      try {
        return await body(ctl, opts);
      } finally {
        await ctl.close();
      }
    });
  };
}

function systemText(q: SystemQuery): string {
  return formatTable(
    ['Rank', 'State', 'Address', 'PID'],
    q.members.map((m) => [
      String(m.rank),
      m.state,
      m.address ?? '-',
      m.pid === undefined ? '-' : String(m.pid),
    ]),
  );
}

function poolQueryText(q: PoolQuery): string {
  const used = q.totalBytes - q.freeBytes;
  return [
    `Pool ${q.uuid}, ntarget=${q.targets}, disabled=${q.disabledTargets}, version=${q.mapVersion}, state=Ready`,
    'Pool space info:',
    `- Label: ${q.label}`,
    `- Target count: ${q.targets}`,
    `- Total size: ${formatBytes(q.totalBytes)}`,
    `- Used: ${formatBytes(used)}`,
    `- Free: ${formatBytes(q.freeBytes)}`,
    `Rebuild ${q.rebuild.state}, ${q.rebuild.objects} objs, ${q.rebuild.bytes} bytes`,
  ].join('\n');
}

function aclText(acl: { owner: string; group: string; entries: string[] }): string {
  return [`# Owner: ${acl.owner}`, `# Owner Group: ${acl.group}`, '# Entries:', ...acl.entries].join('\n');
}

function targetList(text: string | undefined): number[] | undefined {
  return text === undefined ? undefined : parseRanks(text);
}

function rankOption(text: string): number {
  const r = intOption(text, '--rank');
  if (r === undefined) throw new DaosError('DER_INVAL', '--rank is required');
  return r;
}

program
  .name('dmg')
  .description('DAOS management tool (daos-ts)')
  .option('--embedded <dir>', 'act on the embedded system in DIR (env DAOS_EMBEDDED)')
  .option('-l, --host-list <hosts>', 'daos_server control addresses host[:port],... (env DAOS_CONTROL_HOSTS)')
  .option('-i, --insecure', 'plaintext gRPC (the server must allow_insecure)')
  .option('--ca-cert <file>', 'CA certificate to verify the server')
  .option('--cert <file>', "this admin's certificate")
  .option('--key <file>', "this admin's key")
  .option('-j, --json', 'machine-readable output: { response, error, status }')
  .option('--engines <n>', 'a new embedded system: engine ranks (default 1)')
  .option('--targets <n>', 'a new embedded system: targets per engine (default 4)');

// ---- system ----
const system = program.command('system').description('system members');
system
  .command('query')
  .option('-r, --ranks <list>', 'ranks, e.g. 0,2-3')
  .action(
    act((o: { ranks?: string }) => async (ctl) => {
      const q = await ctl.systemQuery({ ranks: o.ranks === undefined ? undefined : parseRanks(o.ranks) });
      return { json: q, text: systemText(q) };
    }),
  );
for (const verb of ['stop', 'start'] as const) {
  system
    .command(verb)
    .option('-r, --ranks <list>', 'ranks, e.g. 0,2-3')
    .option('--force', 'stop without waiting')
    .action(
      act((o: { ranks?: string; force?: boolean }) => async (ctl, opts) => {
        const ranks = o.ranks === undefined ? undefined : parseRanks(o.ranks);
        const bar = progressBar(opts);
        try {
          const q =
            verb === 'stop'
              ? await ctl.systemStop({ ranks, force: o.force, onProgress: bar.onProgress })
              : await ctl.systemStart({ ranks, onProgress: bar.onProgress });
          return { json: q, text: systemText(q) };
        } finally {
          bar.stop();
        }
      }),
    );
}
system
  .command('exclude')
  .requiredOption('-r, --ranks <list>', 'ranks to exclude, e.g. 1 or 0,2-3')
  .action(
    act((o: { ranks: string }) => async (ctl) => {
      const q = await ctl.systemExclude(parseRanks(o.ranks));
      return { json: q, text: systemText(q) };
    }),
  );

// ---- storage ----
const storage = program.command('storage').description('engine storage');
const tiersText = (tiers: Awaited<ReturnType<ControlPlane['storageScan']>>) =>
  formatTable(
    ['Rank', 'Class', 'Mount', 'Total', 'Free', 'Formatted'],
    tiers.map((t) => [
      String(t.rank),
      t.class,
      t.mount,
      formatBytes(t.totalBytes),
      formatBytes(t.freeBytes),
      t.formatted ? 'yes' : 'no',
    ]),
  );
storage.command('scan').action(
  act(() => async (ctl) => {
    const tiers = await ctl.storageScan();
    return { json: tiers, text: tiersText(tiers) };
  }),
);
storage
  .command('format')
  .option('--force', 'reformat storage that is formatted')
  .action(
    act((o: { force?: boolean }) => async (ctl, opts) => {
      const bar = progressBar(opts);
      try {
        const tiers = await ctl.storageFormat({ force: o.force, onProgress: bar.onProgress });
        return { json: tiers, text: `Format complete\n${tiersText(tiers)}` };
      } finally {
        bar.stop();
      }
    }),
  );

// ---- pools ----
const pool = program.command('pool').description('pools');
pool
  .command('create <label>')
  .requiredOption('-z, --size <size>', 'total size, e.g. 4G')
  .option('-a, --acl-file <file>', 'initial ACL')
  .option('-P, --properties <list>', 'properties name:value,... (see dmg pool get-prop)')
  .option('-u, --user <name>', 'owner user (default: you)')
  .option('-g, --group <name>', 'owner group (default: your group)')
  .action(
    act(
      (
        label: string,
        o: { size: string; aclFile?: string; properties?: string; user?: string; group?: string },
      ) =>
        async (ctl) => {
          const info = await ctl.poolCreate({
            label,
            size: o.size,
            acl: o.aclFile === undefined ? undefined : readAclFile(o.aclFile),
            properties: parseKeyValues(o.properties),
            owner: o.user,
            group: o.group,
          });
          const ranks = [...new Set(info.map.targets.map((t) => t.rank))];
          const json = {
            uuid: info.uuid,
            label: info.label,
            totalBytes: info.totalBytes,
            ranks,
            targets: info.map.targets.length,
            owner: info.owner,
            group: info.group,
          };
          const text = `Pool created\n${formatFields([
            ['UUID', info.uuid],
            ['Label', info.label],
            ['Storage Ranks', ranks.join(',')],
            ['Targets', String(info.map.targets.length)],
            ['Total Size', formatBytes(info.totalBytes)],
          ])}`;
          return { json, text };
        },
    ),
  );
pool
  .command('destroy <pool>')
  .option('-f, --force', 'destroy even if it holds containers')
  .option('-r, --recursive', 'destroy its containers too')
  .action(
    act((id: string, o: { force?: boolean; recursive?: boolean }) => async (ctl) => {
      await ctl.poolDestroy(id, o);
      return { json: { pool: id, destroyed: true }, text: 'Pool-destroy command succeeded' };
    }),
  );
pool.command('list').action(
  act(() => async (ctl) => {
    const pools = [];
    for (const p of await ctl.poolList()) {
      const q = await ctl.poolQuery(p.uuid);
      pools.push({
        uuid: p.uuid,
        label: p.label,
        totalBytes: q.totalBytes,
        freeBytes: q.freeBytes,
        usedBytes: q.totalBytes - q.freeBytes,
        targets: q.targets,
        disabledTargets: q.disabledTargets,
        state: 'Ready',
        owner: p.owner,
        group: p.group,
      });
    }
    const text =
      pools.length === 0
        ? 'no pools in system'
        : formatTable(
            ['Pool', 'Size', 'State', 'Used', 'Disabled'],
            pools.map((p) => [
              p.label,
              formatBytes(p.totalBytes),
              p.state,
              `${p.totalBytes === 0 ? 0 : Math.round((100 * p.usedBytes) / p.totalBytes)}%`,
              `${p.disabledTargets}/${p.targets}`,
            ]),
          );
    return { json: { pools }, text };
  }),
);
pool.command('query <pool>').action(
  act((id: string) => async (ctl) => {
    const q = await ctl.poolQuery(id);
    return { json: q, text: poolQueryText(q) };
  }),
);
pool
  .command('get-prop <pool> [names...]')
  .description('properties (all, or the names given, comma- or space-separated)')
  .action(
    act((id: string, names: string[]) => async (ctl) => {
      const wanted = names.flatMap((n) => n.split(',')).filter((n) => n !== '');
      const props = await ctl.poolGetProp(id, wanted);
      const text = formatTable(
        ['Name', 'Value'],
        Object.entries(props).map(([k, v]) => [`${POOL_PROPS[k]?.description ?? k} (${k})`, v]),
      );
      return { json: props, text };
    }),
  );
pool
  .command('set-prop <pool> <properties>')
  .description('set name:value,... properties')
  .action(
    act((id: string, list: string) => async (ctl) => {
      const props = parseKeyValues(list);
      if (Object.keys(props).length === 0) throw new DaosError('DER_INVAL', 'no properties given');
      await ctl.poolSetProp(id, props);
      return { json: props, text: 'pool set-prop succeeded' };
    }),
  );
pool.command('get-acl <pool>').action(
  act((id: string) => async (ctl) => {
    const acl = await ctl.poolGetAcl(id);
    return { json: acl, text: aclText(acl) };
  }),
);
const aclResult = async (ctl: ControlPlane, id: string, entries: string[]): Promise<CommandOutput> => {
  const acl = { ...(await ctl.poolGetAcl(id)), entries };
  return { json: acl, text: aclText(acl) };
};
pool
  .command('overwrite-acl <pool>')
  .requiredOption('-a, --acl-file <file>', 'the new ACL')
  .action(
    act(
      (id: string, o: { aclFile: string }) => async (ctl) =>
        aclResult(ctl, id, await ctl.poolOverwriteAcl(id, readAclFile(o.aclFile))),
    ),
  );
pool
  .command('update-acl <pool>')
  .option('-a, --acl-file <file>', 'entries to add or replace')
  .option('-e, --entry <ace>', 'one entry, e.g. A::bob@:r')
  .action(
    act((id: string, o: { aclFile?: string; entry?: string }) => async (ctl) => {
      if ((o.aclFile === undefined) === (o.entry === undefined))
        throw new DaosError('DER_INVAL', 'update-acl needs exactly one of --acl-file and --entry');
      const entries = o.entry !== undefined ? [o.entry] : readAclFile(o.aclFile!);
      return aclResult(ctl, id, await ctl.poolUpdateAcl(id, entries));
    }),
  );
pool
  .command('delete-acl <pool>')
  .requiredOption('-p, --principal <who>', 'OWNER@, GROUP@, EVERYONE@, u:name@ or g:name@')
  .action(
    act(
      (id: string, o: { principal: string }) => async (ctl) =>
        aclResult(ctl, id, await ctl.poolDeleteAcl(id, o.principal)),
    ),
  );
for (const [verb, done] of [
  ['exclude', 'Exclude'],
  ['drain', 'Drain'],
  ['reintegrate', 'Reintegration'],
] as const) {
  const cmd = pool
    .command(`${verb} <pool>`)
    .requiredOption('--rank <n>', 'engine rank')
    .option('--target-idx <list>', 'target indices on the rank, e.g. 0,2-3 (default all)');
  if (verb === 'exclude') cmd.option('--force', "exclude even when a container's redundancy factor breaks");
  cmd.action(
    act((id: string, o: { rank: string; targetIdx?: string; force?: boolean }) => async (ctl) => {
      const rank = rankOption(o.rank);
      const targets = targetList(o.targetIdx);
      const q =
        verb === 'exclude'
          ? await ctl.poolExclude(id, rank, targets, { force: o.force === true })
          : verb === 'drain'
            ? await ctl.poolDrain(id, rank, targets)
            : await ctl.poolReintegrate(id, rank, targets);
      return { json: q, text: `${done} command succeeded\n${poolQueryText(q)}` };
    }),
  );
}
pool
  .command('extend <pool>')
  .requiredOption('--ranks <list>', 'engine ranks to extend the pool onto, e.g. 4,5 or 4-5')
  .action(
    act((id: string, o: { ranks: string }) => async (ctl) => {
      const ranks = targetList(o.ranks) ?? [];
      const q = await ctl.poolExtend(id, ranks);
      return { json: q, text: `Extend command succeeded\n${poolQueryText(q)}` };
    }),
  );

// ---- containers ----
const cont = program.command('cont').alias('container').description('containers (admin)');
cont
  .command('set-owner')
  .requiredOption('--pool <pool>', 'pool label or UUID')
  .requiredOption('--cont <cont>', 'container label or UUID')
  .option('-u, --user <name>', 'new owner user')
  .option('-g, --group <name>', 'new owner group')
  .action(
    act((o: { pool: string; cont: string; user?: string; group?: string }) => async (ctl) => {
      const info = await ctl.contSetOwner(o.pool, o.cont, { user: o.user, group: o.group });
      const json = {
        pool: info.pool,
        uuid: info.uuid,
        label: info.label,
        owner: info.owner,
        group: info.group,
      };
      return {
        json,
        text: `Successfully set owner of container ${info.label}: ${info.owner} / ${info.group}`,
      };
    }),
  );

await program.parseAsync(process.argv);
