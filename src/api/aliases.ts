/**
 * cnm's own path for what Docker cannot do: changing the network-scoped aliases of a connected
 * sandbox without disconnecting it.
 *
 *   POST /cnm/networks/{network}/aliases   {"Container": "web", "Add": ["api"], "Remove": ["old"]}
 *   → 200 {"Aliases": [...]}, the endpoint's aliases as `inspect` shows them afterwards
 *
 * The reply comes once the embedded DNS answers with the change (the controller waits for its
 * services), so a peer's next query sees it. All or nothing: one bad or missing alias and
 * nothing changes.
 */
import type { Controller } from '../controller/controller';
import { invalid } from '../errors';
import type { AliasChangeResponse } from './engine-types';
import type { Router } from './http';
import { json } from './http';
import { requiredContainer } from './network-requests';
import { endpointSettings } from './present';
import { object, optStringArray } from './validate';

export interface AliasChange {
  container: string;
  add: string[];
  remove: string[];
}

/** The request body, checked before anything changes. */
export function parseAliasChange(raw: unknown): AliasChange {
  const body = object(raw, 'request body');
  const container = requiredContainer(body);
  const add = optStringArray(body, 'Add', 'body') ?? [];
  const remove = optStringArray(body, 'Remove', 'body') ?? [];
  if (!add.length && !remove.length) throw invalid('nothing to change: give the aliases to add in body.Add or to remove in body.Remove');
  const both = add.filter((a) => remove.includes(a));
  if (both.length) throw invalid(`alias ${both.join(', ')} is both added and removed`);
  return { container, add, remove };
}

export function addAliasRoutes(router: Router, ctl: Controller): void {
  router.add('POST', '/cnm/networks/{id}/aliases', async (req) => {
    const change = parseAliasChange(req.body);
    // Resolved first for Docker's "not found" texts, and to present the result even if another
    // request removes the sandbox right after.
    const network = ctl.network(req.params.id!);
    const sandbox = ctl.sandbox(change.container);
    const endpoint = await ctl.setAliases(network.id, sandbox.id, { add: change.add, remove: change.remove });
    return json(200, { Aliases: endpointSettings(sandbox, endpoint, network).Aliases } satisfies AliasChangeResponse);
  });
}
