/** Choosing a time beyond the earliest: a month, a day with free seats, then the free times
 * at each office. ``act`` renders what a chosen slot leads to (a booking link, a move). */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import { formatDate, formatMonth, formatTime, t } from "../i18n";
import { TENANT } from "../tenant";
import { Show, useAsync } from "../ui";

type Slot = Schemas["booking.FreeSlot"];
const path = { ags: TENANT };

function months(): string[] {
  const now = new Date();
  return [0, 1, 2].map((i) => {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    return d.toISOString().slice(0, 7);
  });
}

export function SlotPicker({
  serviceIds,
  act,
}: {
  serviceIds: string[];
  act: (slot: Slot, officeName: string) => ComponentChildren;
}) {
  const choices = months();
  const [month, setMonth] = useState(choices[0] ?? "");
  const [day, setDay] = useState<string | null>(null);
  const offices = useAsync(() => call(api.GET("/booking/v1/tenants/{ags}/offices", { params: { path } })), []);
  const days = useAsync(
    () =>
      call(
        api.GET("/booking/v1/tenants/{ags}/availability/days", {
          params: { path, query: { service_id: serviceIds, month } },
        }),
      ),
    [serviceIds.join(), month],
  );
  const slots = useAsync(
    async () =>
      day
        ? call(
            api.GET("/booking/v1/tenants/{ags}/availability/slots", {
              params: { path, query: { service_id: serviceIds, date: day } },
            }),
          )
        : null,
    [serviceIds.join(), day],
  );
  const names = new Map((offices.data?.items ?? []).map((o) => [o.id, o.name]));
  return (
    <div class="picker">
      <div class="field">
        <label for="month">{t("month")}</label>
        <select
          id="month"
          value={month}
          onChange={(e) => {
            setMonth(e.currentTarget.value);
            setDay(null);
          }}
        >
          {choices.map((m) => (
            <option key={m} value={m}>
              {formatMonth(m)}
            </option>
          ))}
        </select>
      </div>
      <Show state={days}>
        {(found) =>
          found.days.length === 0 ? (
            <p>{t("noDays")}</p>
          ) : (
            <div class="field">
              <label for="day">{t("day")}</label>
              <select id="day" value={day ?? ""} onChange={(e) => setDay(e.currentTarget.value || null)}>
                <option value="">{t("pickDay")}</option>
                {found.days.map((d) => (
                  <option key={d.date} value={d.date}>
                    {formatDate(d.date)}
                  </option>
                ))}
              </select>
            </div>
          )
        }
      </Show>
      {day && (
        <Show state={slots}>
          {(free) =>
            free && (
              <section aria-labelledby="free-times" aria-live="polite">
                <h3 id="free-times">
                  {t("freeTimes")}: {formatDate(day)}
                </h3>
                <ul class="times">
                  {free.slots.map((slot) => (
                    <li key={`${slot.office_id}-${slot.start}`}>{act(slot, names.get(slot.office_id) ?? "")}</li>
                  ))}
                </ul>
              </section>
            )
          }
        </Show>
      )}
    </div>
  );
}

export function slotLabel(slot: Slot, officeName: string): string {
  return `${formatTime(slot.start)}, ${officeName}`;
}
