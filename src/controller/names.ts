/** Random sandbox names in Docker's adjective_surname style, when the user gives none. */
import crypto from 'node:crypto';

const ADJECTIVES = ['admiring', 'brave', 'calm', 'clever', 'eager', 'elegant', 'focused', 'gallant', 'happy', 'jolly', 'keen', 'lucid', 'modest', 'nifty', 'quirky', 'serene', 'sharp', 'stoic', 'upbeat', 'vibrant', 'wizardly', 'zealous'];
const SURNAMES = ['albattani', 'babbage', 'bohr', 'curie', 'darwin', 'einstein', 'euler', 'fermi', 'galileo', 'hopper', 'hypatia', 'kepler', 'lamport', 'lovelace', 'meitner', 'noether', 'pascal', 'ritchie', 'shannon', 'tesla', 'turing', 'wozniak'];

export function randomName(taken: (name: string) => boolean): string {
  for (let attempt = 0; ; attempt++) {
    const base = `${ADJECTIVES[crypto.randomInt(ADJECTIVES.length)]}_${SURNAMES[crypto.randomInt(SURNAMES.length)]}`;
    const name = attempt < 10 ? base : `${base}${crypto.randomInt(1000)}`;
    if (!taken(name)) return name;
  }
}
