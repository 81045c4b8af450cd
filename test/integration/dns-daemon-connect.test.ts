/**
 * A connect returns only once the embedded DNS answers with it (issue 10, point 7). The path:
 * Controller.connect runs in the serial queue and, before the queue lets the API answer, awaits
 * every service's stateChanged; the resolver's update makes the new snapshot live synchronously
 * when it runs, then waits for new sandboxes' listeners. So the asker's very next query must see
 * the alias. Checked here with many connects, each followed at once by a query, while other
 * sandboxes churn on the same network through the same queue.
 */
import t from 'tap';
import { DnsLab } from './dns-daemon-lab';

t.test('connect --alias, then a query at once: answered with the new address every time', async (t) => {
  const dns = await DnsLab.start(t);
  await dns.cli('network', 'create', '--subnet', '10.43.0.0/24', 'home');
  await dns.cli('network', 'create', '--subnet', '10.44.0.0/24', 'away');
  await dns.run('asker', '--network', 'away');
  const rounds = 40;
  let stop = false;
  // Other operations in the controller's queue at the same time.
  const churn = (async () => {
    for (let i = 0; !stop; i++) {
      await dns.lab.api('POST', `/containers/create?name=churn${i}`, { Cmd: ['true'], HostConfig: { NetworkMode: 'away' }, NetworkingConfig: { EndpointsConfig: { away: { Aliases: [`busy${i}`] } } } });
      await dns.lab.api('DELETE', `/containers/churn${i}?force=1`);
    }
  })();
  const misses: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const created = await dns.lab.api('POST', `/containers/create?name=c${i}`, { Cmd: ['true'], HostConfig: { NetworkMode: 'home' } });
    t.equal(created.status, 201, created.raw);
    const connected = await dns.lab.api('POST', '/networks/away/connect', { Container: `c${i}`, EndpointConfig: { Aliases: [`fresh${i}`] } });
    t.equal(connected.status, 200, connected.raw);
    let reply = await dns.dig('asker', `fresh${i}`);
    // A query lost on a loaded machine is asked again: a timeout is not a wrong answer, NXDOMAIN is.
    if (reply.status === 'TIMEOUT') reply = await dns.dig('asker', `fresh${i}`);
    const answer = reply.answers.filter((a) => a.type === 'A').map((a) => a.data);
    const expected = await dns.ip(`c${i}`, 'away');
    if (reply.status !== 'NOERROR' || answer.join(',') !== expected) misses.push(`fresh${i}: ${reply.status} ${JSON.stringify(answer)}, expected ${expected}`);
    await dns.lab.api('DELETE', `/containers/c${i}?force=1`);
  }
  stop = true;
  await churn;
  t.same(misses, [], `all ${rounds} aliases answered right after connect returned`);
});
