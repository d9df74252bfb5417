// Words and numbers as the page shows them. No DOM here.

const numberFormat = new Intl.NumberFormat('en');

/** count formats an integer with thousands separators. */
export function count(n) {
  return numberFormat.format(n || 0);
}

/** plural picks the singular or plural noun for n. */
export function plural(n, one, many) {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** percent formats 0..100 with at most one decimal ("37.5 %", "100 %"). */
export function percent(p) {
  const v = Math.round((p || 0) * 10) / 10;
  return `${v.toFixed(Number.isInteger(v) ? 0 : 1)} %`;
}

/** rate formats changes per second. */
export function rate(perSecond) {
  if (perSecond === null || perSecond === undefined) return 'measuring…';
  if (perSecond < 10) return `${(Math.round(perSecond * 10) / 10).toFixed(1)} changes/s`;
  return `${count(Math.round(perSecond))} changes/s`;
}

/** range says which rows of a listing are shown ("Showing 26–50"). */
export function range(first, shown) {
  if (shown <= 1) return `Showing ${count(first)}`;
  return `Showing ${count(first)}–${count(first + shown - 1)}`;
}

/** duration formats seconds as "about 2 min 5 s" style text. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return 'estimating…';
  const s = Math.max(0, Math.round(seconds));
  if (s === 0) return 'none';
  if (s < 60) return `about ${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `about ${m} min ${s % 60} s`;
  return `about ${Math.floor(m / 60)} h ${m % 60} min`;
}

/** dateTime formats an ISO timestamp in the admin's locale, or '–'. */
export function dateTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export const syncStatusLabels = {
  PREVIEWING: 'Computing preview',
  PREVIEW_READY: 'Preview ready',
  PREVIEW_FAILED: 'Preview failed',
  APPLYING: 'Applying',
  COMPLETED: 'Completed',
  COMPLETED_WITH_ERRORS: 'Completed with errors',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
  EXPIRED: 'Expired',
};

export function syncStatus(status) {
  return syncStatusLabels[status] || status;
}

// Why a change is what it is, as a sentence fragment.
const reasonLabels = {
  no_email: 'No usable email address (neither mail nor user principal name).',
  duplicate_email: 'Several Entra ID users share this email address, so none of them is imported.',
  email_owned_by_other: 'Another imported user already has this email address.',
  linked_elsewhere: 'The matching user here is linked to a different Entra ID directory.',
  deleted: 'Deleted in Entra ID.',
  disabled: 'Account disabled in Entra ID.',
  out_of_scope: 'No longer in the imported groups, or a guest while guests are excluded.',
  link_by_email: 'Existing user matched by email; it will be linked to Entra ID.',
  back_in_scope: 'Back in Entra ID and enabled.',
  ignored_by_admin: 'Always ignored: an administrator chose to leave this user out of every import.',
  undo: 'Reverses what the earlier import did.',
  changed_since_sync: 'Edited since the earlier import: the undo leaves it as it is now (it will show as a conflict).',
};

export function reason(code) {
  if (!code) return '';
  return reasonLabels[code] || code.replace(/_/g, ' ');
}

// Failure codes of a preview (SyncError.code).
const syncErrorLabels = {
  source_empty: 'Entra ID returned no users at all while users here are linked to it, so the preview was stopped to protect them.',
  source_read_failed: 'The directory could not be read completely from Entra ID, so no changes were computed.',
  bad_credentials: 'Entra ID refused the credentials: check the directory ID, client ID and client secret.',
  permission_denied: 'The app registration lacks a permission or admin consent (User.Read.All, Group.Read.All, Directory.Read.All).',
  invalid_options: 'The connection options are not valid.',
  internal: 'Something went wrong on the service’s side.',
};

/** syncError words a failed sync's {code, message}. */
export function syncError(err) {
  if (!err) return '';
  const sentence = syncErrorLabels[err.code] || 'The sync failed.';
  return err.message ? `${sentence} Details: ${err.message}` : sentence;
}

// Why a preview read all of Entra ID (Sync.readReason), as the end of
// "Read all of Entra ID: …".
const readReasonLabels = {
  no_mirror: 'first sync, or no sync in the last 30 days',
  requested: 'you asked for a full read',
  basis_changed: 'the connection’s directory or mapped attributes changed',
  reconcile: 'the weekly full read that catches anything the change feed missed',
  delta_expired: 'Microsoft Graph no longer accepted the change token',
  drift: 'the changes did not add up to Microsoft Graph’s counts, so everything was read again',
};

/**
 * readSentence says how a sync's preview read Entra ID (readKind and
 * readReason), or '' when it read nothing (an undo) or is not ready yet.
 */
export function readSentence(sync) {
  if (!sync) return '';
  if (sync.readKind === 'delta') return 'Read only what changed in Entra ID since the last sync.';
  if (sync.readKind !== 'full') return '';
  if (!sync.readReason) return 'Read all of Entra ID.';
  return `Read all of Entra ID: ${readReasonLabels[sync.readReason] || sync.readReason.replace(/_/g, ' ')}.`;
}

/**
 * planSentence says when a preview compared only part of the users
 * (plannedUsers: a re-sync planned from what changed), or ''.
 */
export function planSentence(sync) {
  const n = sync && sync.plannedUsers;
  if (!n) return '';
  return `Compared only the ${plural(n, 'user', 'users')} that changed or the last preview listed; everyone else was already in step.`;
}

const readKindLabels = { full: 'Full read', delta: 'Changes only' };

/** readTag is the history's short tag of a sync's readKind, or ''. */
export function readTag(kind) {
  return readKindLabels[kind] || '';
}

const outcomeLabels = { applied: 'Applied', conflict: 'Conflict', failed: 'Failed' };

export function outcome(o) {
  return outcomeLabels[o] || o || '';
}

// Friendly names of the attributes a change can touch; unknown names are
// split from camelCase.
const fieldLabels = {
  displayName: 'Display name', givenName: 'First name', surname: 'Last name', email: 'Email',
  userPrincipalName: 'User principal name', jobTitle: 'Job title', department: 'Department',
  officeLocation: 'Office', mobilePhone: 'Mobile phone', businessPhones: 'Business phones',
  employeeId: 'Employee ID', employeeType: 'Employee type', companyName: 'Company', country: 'Country',
  city: 'City', state: 'State', streetAddress: 'Street address', postalCode: 'Postal code',
  usageLocation: 'Usage location', preferredLanguage: 'Preferred language', manager: 'Manager',
  externalId: 'Entra ID link', source: 'Source', status: 'Status', description: 'Description',
};

export function fieldLabel(name) {
  if (fieldLabels[name]) return fieldLabels[name];
  const words = String(name).replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_.-]+/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** safeguardSentence explains a tripped deactivation or removal threshold. */
export function safeguardSentence(g) {
  switch (g.name) {
    case 'deactivation_percent':
      return `It would deactivate ${percent(g.actual)} of your imported users; the limit is ${percent(g.limit)}.`;
    case 'deactivation_count':
      return `It would deactivate ${plural(g.actual, 'user', 'users')}; the limit is ${count(g.limit)}.`;
    case 'group_removal_percent':
      return `It would remove ${percent(g.actual)} of your imported groups; the limit is ${percent(g.limit)}.`;
    case 'group_removal_count':
      return `It would remove ${plural(g.actual, 'group', 'groups')}; the limit is ${count(g.limit)}.`;
    case 'membership_removal_percent':
      return `It would remove ${percent(g.actual)} of your imported group memberships; the limit is ${percent(g.limit)}.`;
    case 'membership_removal_count':
      return `It would remove ${plural(g.actual, 'group membership', 'group memberships')}; the limit is ${count(g.limit)}.`;
    default:
      return `${g.name.replace(/_/g, ' ')}: ${g.actual} (limit ${g.limit}).`;
  }
}
