/**
 * Every DM 2.0 detail the gateway had to choose, in one place (seed 001 and
 * dm-protocol-notes §7 settle the package flow, the command names and the
 * Generic Alert properties; the rest is marked "unconfirmed" there). The
 * README's DM 2.0 section lists each choice and why; change it here only.
 */

// ---- media types (notes §7: from a summary note and one client, unconfirmed against the spec)

/** Package#1, client → server. */
export const MEDIA_PACKAGE1 = 'application/vnd.oma.dm.initiation+json';
/** Package#2, server → client (the HTTP response). */
export const MEDIA_PACKAGE2 = 'application/vnd.oma.dm.request+json';
/** Package#3, client → server. */
export const MEDIA_PACKAGE3 = 'application/vnd.oma.dm.response+json';

/** The HTTP header naming the device on every client POST (seed 001 §2.1.1, §2.1.3). */
export const DEVID_HEADER = 'omadm-devid';

// ---- alert types

export const ALERT_SERVER_INITIATED = 'urn:oma:at:dm:2.0:ServerInitiatedMgmt';
export const ALERT_CLIENT_INITIATED = 'urn:oma:at:dm:2.0:ClientInitiatedMgmt';
export const ALERT_BOOTSTRAP_COMPLETE = 'urn:oma:at:dm:2.0:BootstrapComplete';
/** The alerts that open a session; any other alert is a Generic Alert. */
export const SESSION_ALERT_TYPES: readonly string[] = [ALERT_SERVER_INITIATED, ALERT_CLIENT_INITIATED, ALERT_BOOTSTRAP_COMPLETE];

// ---- JSON property names (notes §7 examples; Generic Alert properties from seed 001 §5.4)

export const KEY = {
  mos: 'MOS',
  ddf: 'DDF',
  moid: 'MOID',
  miid: 'MIID',
  alert: 'Alert',
  cmd: 'CMD',
  status: 'Status',
  statusCode: 'sc',
  statusUris: 'URI',
  alertType: 'AlertType',
  sourceUri: 'SourceURI',
  targetUri: 'TargetURI',
  mark: 'Mark',
  dataType: 'DataType',
  data: 'Data',
  /**
   * Unconfirmed: the NOTIFICATION-ID a ServerInitiatedMgmt alert carries
   * (notes §7 "field unconfirmed"); read when present, never required.
   */
  notificationId: 'NotificationID',
} as const;

/**
 * Unconfirmed: how a GET's value comes back in Package#3 ("Pkg3 carriage
 * unconfirmed"). Chosen: in the command's status object, beside `sc`, as
 * `Data` (a string) with an optional `DataType` (a media type), the same
 * property names a Generic Alert uses for its payload.
 */
export const GET_VALUE_KEYS = { data: KEY.data, dataType: KEY.dataType } as const;

/** Generic Alert content carried over from DM 1.x is wrapped as `{"DM1x": …}` (notes §7). */
export const DM1X_WRAPPER = 'DM1x';

/** Generic Alert marks (seed 001 §5.4); absent means informational. */
export const MARKS: readonly string[] = ['fatal', 'critical', 'minor', 'warning', 'informational', 'harmless', 'indeterminate'];
export const DEFAULT_MARK = 'informational';

// ---- commands

export const COMMANDS = ['HGET', 'HPUT', 'HPOST', 'DELETE', 'EXEC', 'GET', 'SHOW', 'CONT', 'END', 'DEFAULT'] as const;

/**
 * Unconfirmed parameter orders (notes §7: confirmed only for HGET, HPOST and GET):
 * - HGET/HPUT/HPOST: [ServerURI, ClientURI?]  (confirmed for HGET/HPOST; HPUT follows HPOST)
 * - GET: [ClientURI]                          (confirmed)
 * - DELETE: [ClientURI]
 * - EXEC: [ClientURI, ServerURI?, Data?]      (ServerURI "" when data but no asynchronous report)
 * - CONT: [ServerURI]; END: []
 *
 * Unconfirmed: whether CONT and END get a status. Chosen: every command of a
 * Package#2 that is answered gets one status, in order, CONT included (a
 * Package#2 ending with END is not answered at all, seed 001 §2.1.3). The
 * gateway puts CONT last in every Package#2 it expects an answer to, so the
 * client's Package#3 comes to the session's own URI.
 */
export const CONT_GETS_STATUS = true;

/** At most this many device commands in one Package#2 (the rest go in the next). */
export const MAX_COMMANDS_PER_PACKAGE = 64;

// ---- gateway URL layout under the DM 2.0 endpoint

/** The endpoint path (contract). */
export const DM2_PATH = '/dm2';
/** `POST /dm2/s/<token>`: the session's own URI, given to the client by CONT. */
export const SESSION_SEGMENT = 's';
/**
 * `POST /dm2/r/<correlator>`: the ServerURI of an asynchronous EXEC.
 * Unconfirmed: seed 001 says only that a ServerURI makes the EXEC report
 * asynchronously, by a Generic Alert in a later Package#1 or #3; a DM 2.0
 * Generic Alert has no Correlator property. Chosen: the EXEC's ServerURI
 * names the report; a client POSTs the Package#1 that carries the report to
 * it, and the gateway gives that correlator to the Generic Alerts in it. A
 * Package#3 alert or a Package#1 to `/dm2` is matched by its SourceURI alone.
 */
export const REPORT_SEGMENT = 'r';
/** `GET /dm2/data/<signed token>`: what an HGET fetches (an UPDATE's value). */
export const DATA_SEGMENT = 'data';
/**
 * `POST|PUT /dm2/up/<signed token>`: where an HPOST/HPUT sends (a QUERY's value from a client
 * without GET, which is optional for clients, seed 001 B.1 DM-PACK-019-C-O). Chosen: a Get is sent
 * as GET; answered 406 or 501, it is asked again as HPOST to this store in the next package.
 */
export const UPLOAD_SEGMENT = 'up';

/**
 * Unconfirmed: how an HGET says "create an interior node". Chosen: the
 * served object has this media type and an empty body.
 */
export const INTERIOR_NODE_MEDIA_TYPE = 'application/vnd.oma.dm.node';
/** What an HGET of a leaf value is served as when its command names no Type. */
export const DEFAULT_VALUE_MEDIA_TYPE = 'text/plain; charset=utf-8';
/** A header on a served value giving its DM Format (chr, int, bool, b64, bin, xml…). Gateway choice. */
export const FORMAT_HEADER = 'x-omadm-format';

// ---- ClientURI (notes §7: `MOID/[MIID|(x)|*|""]/path`)

/**
 * Unconfirmed: where a DM 1.2 path's MO is for a DM 2.0 client. The
 * standard MOs have fixed MOIDs and one instance; their paths become
 * `<MOID>//<path>`. Every other `./…` path is sent as written (a device's MO
 * locations as DM 2.0 ClientURIs are known only from its DDFs).
 */
export const CLIENT_URI_MOIDS: Readonly<Record<string, string>> = {
  DevInfo: 'urn:oma:mo:oma-dm-devinfo:1.0',
  DevDetail: 'urn:oma:mo:oma-dm-devdetail:1.0',
  DMAcc: 'urn:oma:mo:oma-dm-dmacc:1.0',
};

// ---- HTTP authentication (contract: Basic or Digest with the device's client credentials)

export const DIGEST_REALM = 'dmwsi-dm2';
/** How long a Digest nonce we issued is accepted (then `stale=true`). */
export const DIGEST_NONCE_TTL_MS = 5 * 60_000;

/** The session id under which the (device, session) index binds a DM 2.0 session for clients that ignore CONT. */
export const SESSION_BINDING_ID = 'dm2';
