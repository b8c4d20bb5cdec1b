/** The administration's key figures over a chosen period, per office and for all of them:
 * waiting and processing time, no-shows, first-contact resolution, satisfaction, staff time
 * saved, video appointments. Each chart is inline SVG (no chart library) whose figures are
 * also its text alternative, and all figures are in a table below. */
import { useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import { currentLanguage } from "../i18n";
import type { Session } from "../oauth";
import { TENANT } from "../tenant";
import { Show, useAsync } from "../ui";
import { auth, SignedIn } from "./desk-session";
import { d, type DeskKey } from "./desk-text";

type Kpis = Schemas["booking.Kpis"];
type Row = { label: string; kpis: Kpis };

function berlinDay(date: Date): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Berlin" }).format(date);
}

export function KpisPage() {
  return <SignedIn title={d("kpisTitle")}>{(session) => <Figures session={session} />}</SignedIn>;
}

function Figures({ session }: { session: Session }) {
  const [from, setFrom] = useState(() => berlinDay(new Date(Date.now() - 29 * 86_400_000)));
  const [to, setTo] = useState(() => berlinDay(new Date()));
  const [period, setPeriod] = useState({ from, to });
  const offices = useAsync(
    () => call(api.GET("/booking/v1/tenants/{ags}/offices", { params: { path: { ags: TENANT } } })),
    [],
  );
  const invalid = from > to;
  return (
    <>
      <p>{d("kpisIntro")}</p>
      <form
        class="period"
        onSubmit={(event) => {
          event.preventDefault();
          if (!invalid) setPeriod({ from, to });
        }}
      >
        <div class="field inline">
          <label for="kpi-from">{d("from")}</label>
          <input id="kpi-from" type="date" required value={from} onChange={(e) => setFrom(e.currentTarget.value)} />
        </div>
        <div class="field inline">
          <label for="kpi-to">{d("to")}</label>
          <input
            id="kpi-to"
            type="date"
            required
            value={to}
            aria-invalid={invalid ? "true" : undefined}
            aria-describedby={invalid ? "kpi-invalid" : undefined}
            onChange={(e) => setTo(e.currentTarget.value)}
          />
        </div>
        <button type="submit">{d("show")}</button>
      </form>
      {invalid && (
        <p id="kpi-invalid" class="error" role="alert">
          {d("periodInvalid")}
        </p>
      )}
      <Show state={offices}>
        {(list) => (
          <Period
            session={session}
            from={period.from}
            to={period.to}
            offices={list.items.map((o) => ({ id: o.id, name: o.name }))}
          />
        )}
      </Show>
    </>
  );
}

function Period({
  session,
  from,
  to,
  offices,
}: {
  session: Session;
  from: string;
  to: string;
  offices: { id: string; name: string }[];
}) {
  const rows = useAsync(async (): Promise<Row[]> => {
    const ask = (office_id?: string) =>
      call(
        api.GET("/booking/v1/tenants/{ags}/kpis", {
          params: { path: { ags: TENANT }, query: { from, to, ...(office_id ? { office_id } : {}) } },
          headers: auth(session),
        }),
      );
    const [all, ...each] = await Promise.all([ask(), ...offices.map((o) => ask(o.id))]);
    return [{ label: d("allOffices"), kpis: all! }, ...offices.map((o, i) => ({ label: o.name, kpis: each[i]! }))];
  }, [from, to, session.accessToken]);
  return (
    <Show state={rows}>
      {(data) => (
        <div class="kpis" aria-live="polite">
          <Chart
            id="waiting"
            title={d("waitingTime")}
            series={[d("median"), d("p90")]}
            rows={data.map((r) => ({ label: r.label, values: [r.kpis.waiting.p50, r.kpis.waiting.p90] }))}
            format={minutes}
          />
          <Chart
            id="processing"
            title={d("processingTime")}
            series={[d("median"), d("p90")]}
            rows={data.map((r) => ({ label: r.label, values: [r.kpis.processing.p50, r.kpis.processing.p90] }))}
            format={minutes}
          />
          <Chart
            id="no-shows"
            title={d("noShowRate")}
            rows={data.map((r) => ({ label: r.label, values: [r.kpis.no_show_rate] }))}
            format={percent}
            max={1}
          />
          <Chart
            id="fcr"
            title={d("fcr")}
            rows={data.map((r) => ({ label: r.label, values: [r.kpis.first_contact_resolution_rate] }))}
            format={percent}
            max={1}
          />
          <Chart
            id="satisfaction"
            title={d("satisfaction")}
            rows={data.map((r) => ({ label: r.label, values: [r.kpis.satisfaction.mean] }))}
            format={(v) => number(v, 1)}
            max={5}
          />
          <Chart
            id="saved"
            title={d("minutesSaved")}
            rows={data.map((r) => ({ label: r.label, values: [r.kpis.staff_minutes_saved] }))}
            format={minutes}
          />
          <Chart
            id="remote"
            title={d("remote")}
            series={[d("appointments"), d("remoteCompleted")]}
            rows={data.map((r) => ({
              label: r.label,
              values: [r.kpis.remote?.appointments ?? 0, r.kpis.remote?.completed ?? 0],
            }))}
            format={(v) => number(v, 0)}
          />
          <FiguresTable rows={data} />
        </div>
      )}
    </Show>
  );
}

function number(value: number, digits: number): string {
  return new Intl.NumberFormat(currentLanguage() === "en" ? "en-GB" : "de-DE", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  }).format(value);
}
const minutes = (v: number) => `${number(v, 1)} min`;
const percent = (v: number) =>
  new Intl.NumberFormat(currentLanguage() === "en" ? "en-GB" : "de-DE", { style: "percent", maximumFractionDigits: 1 }).format(v);

const BAR_COLOURS = ["#0b4f8a", "#8a4b0b"]; // both at least 3:1 on white (WCAG 1.4.11)
const WIDTH = 640;
const LABEL = 200;
const VALUE = 90;
const BAR = 16;

/** A horizontal bar chart: a group of bars per row (office), one per series. Its text
 * alternative is the figures themselves (aria-describedby on the list below it). */
function Chart({
  id,
  title,
  rows,
  series = [],
  format,
  max,
}: {
  id: string;
  title: string;
  rows: { label: string; values: (number | null | undefined)[] }[];
  series?: string[];
  format: (value: number) => string;
  max?: number;
}) {
  const perRow = Math.max(1, series.length);
  const top = Math.max(max ?? 0, ...rows.flatMap((r) => r.values.map((v) => v ?? 0))) || 1;
  const group = perRow * BAR + 12;
  const height = rows.length * group + 8;
  const scale = (WIDTH - LABEL - VALUE) / top;
  const say = (v: number | null | undefined) => (v === null || v === undefined ? d("noValue") : format(v));
  return (
    <figure class="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>
        <h2>{title}</h2>
        {series.length > 1 && (
          <ul class="legend" aria-hidden="true">
            {series.map((name, i) => (
              <li key={name}>
                <svg width="14" height="14" aria-hidden="true">
                  <rect width="14" height="14" fill={BAR_COLOURS[i]} />
                </svg>{" "}
                {name}
              </li>
            ))}
          </ul>
        )}
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${height}`}
        width="100%"
        role="img"
        aria-labelledby={`${id}-title`}
        aria-describedby={`${id}-text`}
        preserveAspectRatio="xMinYMin meet"
      >
        {rows.map((row, r) => (
          <g key={row.label} transform={`translate(0 ${r * group + 4})`}>
            <text x={LABEL - 8} y={(perRow * BAR) / 2 + 5} text-anchor="end" class="chart-label">
              {row.label.length > 26 ? `${row.label.slice(0, 25)}…` : row.label}
            </text>
            {row.values.map((value, i) => (
              <g key={i}>
                <rect
                  x={LABEL}
                  y={i * BAR}
                  height={BAR - 3}
                  width={Math.max(value ? value * scale : 0, value ? 2 : 0)}
                  fill={BAR_COLOURS[i % BAR_COLOURS.length]}
                />
                <text x={LABEL + (value ? value * scale : 0) + 6} y={i * BAR + BAR - 5} class="chart-value">
                  {say(value)}
                </text>
              </g>
            ))}
          </g>
        ))}
      </svg>
      <ul id={`${id}-text`} class="chart-text">
        {rows.map((row) => (
          <li key={row.label}>
            {row.label}:{" "}
            {row.values
              .map((v, i) => (series[i] ? `${series[i]} ${say(v)}` : say(v)))
              .join(", ")}
          </li>
        ))}
      </ul>
    </figure>
  );
}

const COLUMNS: [DeskKey, (k: Kpis) => string][] = [
  ["appointments", (k) => String(k.appointments)],
  ["walkIns", (k) => String(k.walk_ins)],
  ["noShows", (k) => String(k.no_shows)],
  ["completed", (k) => String(k.completed)],
  ["waitingTime", (k) => (k.waiting.p50 === null ? d("noValue") : minutes(k.waiting.p50))],
  ["processingTime", (k) => (k.processing.p50 === null ? d("noValue") : minutes(k.processing.p50))],
  ["fcr", (k) => (k.first_contact_resolution_rate === null ? d("noValue") : percent(k.first_contact_resolution_rate))],
  ["ratings", (k) => String(k.satisfaction.count)],
  ["satisfaction", (k) => (k.satisfaction.mean === null ? d("noValue") : number(k.satisfaction.mean, 1))],
  ["minutesSaved", (k) => minutes(k.staff_minutes_saved)],
  ["remote", (k) => String(k.remote?.appointments ?? 0)],
];

function FiguresTable({ rows }: { rows: Row[] }) {
  return (
    <section aria-labelledby="figures">
      <h2 id="figures">{d("figures")}</h2>
      <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="figures">
        <table class="plain">
          <thead>
            <tr>
              <th scope="col">{d("office")}</th>
              {COLUMNS.map(([key]) => (
                <th scope="col" key={key}>
                  {d(key)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.label}>
                <th scope="row">{row.label}</th>
                {COLUMNS.map(([key, value]) => (
                  <td key={key}>{value(row.kpis)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
