/** The municipality this portal serves (its AGS): ?tenant= in the address, else the build's
 * VITE_TENANT, else the demo municipality Musterstadt. */
const fromQuery = new URLSearchParams(location.search).get("tenant");
export const TENANT: string =
  fromQuery && /^[0-9]{8}$/.test(fromQuery) ? fromQuery : (import.meta.env.VITE_TENANT ?? "06999001");
