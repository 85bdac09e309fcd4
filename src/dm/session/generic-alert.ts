/**
 * Generic Alert (1226) and client event (1224) items as effects (notes §5).
 * Unknown alert types are reported like known ones: the caller records them
 * and decides; the session never fails because of a type.
 */
import type { AlertCommand, Item, ItemData } from '../codec/types.js';
import type { ClientEventItem, DataValue, GenericAlertEffect } from './effects.js';

// Linear: anchored at the start, literals between whitespace runs.
const TYPE_PREFIX = /^\s*(?:reversed-domain-name|content-type)\s*:\s*/i;

/**
 * The alert type to match on: an optional `Reversed-Domain-Name:` or
 * `Content-Type:` prefix (any case, with or without a space) removed, trimmed.
 */
export function normalizeAlertType(raw: string): string {
  return raw.replace(TYPE_PREFIX, '').trim();
}

/**
 * Item data as JSON-safe text. The codec has settled it by Format: text is
 * text; bytes (Format bin) become base64 with a marker.
 */
export function dataValue(data: ItemData | undefined): DataValue {
  if (data === undefined) return {};
  if (typeof data === 'string') return { data };
  return { data: data.toString('base64'), dataEncoding: 'base64' };
}

/** One effect per Item; an Alert without Items yields one effect with an empty type. */
export function genericAlertEffects(
  alert: AlertCommand,
  ids: { sessionId: string; deviceId: string },
): GenericAlertEffect[] {
  const items: Item[] = alert.items.length > 0 ? alert.items : [{}];
  return items.map((item) => {
    const rawType = item.meta?.type;
    const effect: GenericAlertEffect = {
      type: 'generic-alert',
      ...ids,
      alertType: rawType === undefined ? '' : normalizeAlertType(rawType),
      mark: item.meta?.mark?.trim() || 'informational',
      ...dataValue(item.data),
    };
    if (rawType !== undefined) effect.rawType = rawType;
    if (item.source?.locUri !== undefined) effect.source = item.source.locUri;
    if (item.meta?.format !== undefined) effect.format = item.meta.format;
    if (alert.correlator !== undefined) effect.correlator = alert.correlator;
    return effect;
  });
}

export function clientEventItems(alert: AlertCommand): ClientEventItem[] {
  return alert.items.map((item) => {
    const out: ClientEventItem = { ...dataValue(item.data) };
    const rawType = item.meta?.type;
    if (rawType !== undefined) {
      out.rawType = rawType;
      out.eventType = normalizeAlertType(rawType);
    }
    if (item.source?.locUri !== undefined) out.source = item.source.locUri;
    if (item.meta?.format !== undefined) out.format = item.meta.format;
    return out;
  });
}
