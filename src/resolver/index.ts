/** The embedded DNS resolver (127.0.0.11 in every sandbox on a user-defined network). */
export type { DnsEndpoint, DnsNetwork, DnsSandbox, DnsState } from './state';
export { LISTEN_ADDRESS as EMBEDDED_DNS } from './listeners';
export { Resolver, type ResolverOptions, type Log, type LogLevel } from './resolver';
