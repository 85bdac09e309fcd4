/** Every migration, in order. The data source runs them; nothing uses synchronize. */
import { InitialSchema1763900000000 } from './1763900000000-InitialSchema.js';

export const MIGRATIONS = [InitialSchema1763900000000];
