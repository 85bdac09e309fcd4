/**
 * Whether a package may go to a device: its kind fits the operation, and its
 * record's capability list (make/model/firmware) includes the device's, and a
 * model that takes firmware inline gets only a small uploaded one. Pure,
 * shared by single operations (doOperation) and rollouts (per target).
 */
import type { Content, ContentKind } from '../../domain/content.js';
import type { DeviceCapability } from '../../domain/registry.js';
import type { OperationName } from '../../domain/tasks.js';
import { INLINE_FUMO_MAX_BYTES } from './mo-plan.js';

export type Applicability = { ok: true } | { ok: false; why: string };

/** The kind of package each delivering operation takes. */
export const PACKAGE_KIND_OF: Readonly<Partial<Record<OperationName, ContentKind>>> = {
  FIRMWARE_UPDATE: 'firmware',
  SOFTWARE_INSTALL: 'software',
};

/** A package applies to every capability when its record lists none, else only to those it lists. */
export function packageAppliesTo(
  content: Content,
  capability: Pick<DeviceCapability, 'oid' | 'make' | 'model' | 'firmwareVersion' | 'fumoDelivery'>,
): Applicability {
  if (content.capabilityOids.length > 0 && !content.capabilityOids.includes(capability.oid)) {
    return {
      ok: false,
      why: `package "${content.contentId}" (${content.name} ${content.version}) does not apply to ${capability.make} ${capability.model} firmware ${capability.firmwareVersion} (capability ${capability.oid})`,
    };
  }
  return content.kind === 'firmware' && capability.fumoDelivery === 'inline' ? inlineFits(content, capability) : { ok: true };
}

/**
 * A model whose FUMO client takes firmware only inline (Update/PkgData) gets
 * an uploaded package of at most INLINE_FUMO_MAX_BYTES; anything else is
 * refused, not delivered another way the client may not support.
 */
function inlineFits(content: Content, capability: Pick<DeviceCapability, 'oid'>): Applicability {
  if (content.url !== undefined) {
    return { ok: false, why: `package "${content.contentId}" is external; capability ${capability.oid} takes firmware inline, which needs an uploaded package` };
  }
  if (content.size > INLINE_FUMO_MAX_BYTES) {
    return {
      ok: false,
      why: `package "${content.contentId}" is ${content.size} bytes; capability ${capability.oid} takes firmware inline, at most ${INLINE_FUMO_MAX_BYTES} bytes`,
    };
  }
  return { ok: true };
}

/** A software package for FIRMWARE_UPDATE (or the reverse) is refused. */
export function packageKindFits(content: Content, operation: OperationName): Applicability {
  const want = PACKAGE_KIND_OF[operation];
  if (want === undefined) return { ok: false, why: `${operation} delivers no package` };
  if (content.kind !== want) return { ok: false, why: `${operation} needs a ${want} package; "${content.contentId}" is ${content.kind}` };
  return { ok: true };
}
