// The admin's bearer token: where the page finds it and what it shows of it.

/** claimsOf reads a JWT's payload for display; the API verifies it, not this. */
export function claimsOf(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')),
      (ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** tokenFromFragment takes #token=<jwt> from a URL fragment. */
export function tokenFromFragment(hash) {
  const params = new URLSearchParams((hash || '').replace(/^#/, ''));
  return params.get('token') || '';
}
