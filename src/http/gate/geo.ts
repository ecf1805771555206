// Country lookup (ISO 3166-1 alpha-2) through a MaxMind GeoLite2-Country database.
import maxmind, { type CountryResponse, type Reader } from 'maxmind';
import { UserError } from '../../config/index.js';

export interface GeoLookup {
  /** The country code of a public address, or null when the database has no answer. */
  country(ip: string): string | null;
}

class MaxMindGeo implements GeoLookup {
  constructor(private readonly reader: Reader<CountryResponse>) {}

  country(ip: string): string | null {
    const rec = this.reader.get(ip);
    return rec?.country?.iso_code ?? rec?.registered_country?.iso_code ?? null;
  }
}

/** Opens the database; a missing or malformed file is a user error naming the key. */
export async function openGeoDb(path: string): Promise<GeoLookup> {
  try {
    // The LRU keeps repeat visitors cheap: most traffic comes from few addresses.
    const reader = await maxmind.open<CountryResponse>(path, { cache: { max: 10_000 } });
    return new MaxMindGeo(reader);
  } catch (err) {
    throw new UserError(`server.geo_db: cannot open ${path} as a MaxMind database: ${(err as Error).message}`);
  }
}
