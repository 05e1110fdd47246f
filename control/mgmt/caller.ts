import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

/**
 * The OS user and primary group of this process as ACL principals (`alice@`, `staff@`): who
 * owns what the management service creates when the request names no owner.
 */
export function callerPrincipals(): { user: string; group: string } {
  const info = userInfo();
  return { user: `${info.username}@`, group: `${groupName(info.gid)}@` };
}

/** A group's name from /etc/group; its number when it is not listed there. */
function groupName(gid: number): string {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id !== undefined && Number(id) === gid) return name;
    }
  } catch {
    // No /etc/group (containers, other OSes): fall back to the number.
  }
  return String(gid);
}
