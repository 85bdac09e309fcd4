/** DM 2.0 packages as typed values (seed 001, notes §7). Plain JSON: nothing here holds a Buffer. */
import type { COMMANDS } from './constants.js';

export type Dm2CommandName = (typeof COMMANDS)[number];

/** One entry of a Package#2 command list: the name, then its parameters, all strings. */
export type Dm2Command = [Dm2CommandName, ...string[]];

/** An MO the client reports in Package#1 (after REQ-MOS). */
export interface Dm2MoEntry {
  ddf?: string;
  moid: string;
  miid: string[];
}

export interface Dm2Alert {
  alertType: string;
  sourceUri?: string;
  targetUri?: string;
  mark?: string;
  dataType?: string;
  /** A string, or the content of `{"DM1x": …}` read as text (see codec). */
  data?: string;
  /** True when Data was `{"DM1x": …}`. */
  dm1x?: boolean;
  /** ServerInitiatedMgmt only (field name unconfirmed). */
  notificationId?: number;
}

export interface Package1 {
  kind: 'package1';
  mos: Dm2MoEntry[];
  alerts: Dm2Alert[];
}

export interface Dm2Status {
  sc: number;
  /** Where an HGET stored what it fetched (client-assigned MIIDs). */
  uris?: string[];
  /** A GET's value. */
  data?: string;
  dataType?: string;
}

export interface Package3 {
  kind: 'package3';
  statuses: Dm2Status[];
  alerts: Dm2Alert[];
}

export type ClientPackage = Package1 | Package3;

export interface Package2 {
  commands: Dm2Command[];
}
