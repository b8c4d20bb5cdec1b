/** The one API client: typed by the generated schema.d.ts (from contracts/), same origin. */
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { currentLanguage } from "../i18n";

export type Schemas = components["schemas"];
export type Problem = Schemas["gateway.ProblemDetails"];

export const api = createClient<paths>({ baseUrl: location.origin });

const language: Middleware = {
  onRequest({ request }) {
    request.headers.set("accept-language", currentLanguage());
    return request;
  },
};
api.use(language);

/** An answer that is not a success: the problem the API sent, or none (unreachable). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> | null,
  ) {
    super(problem?.title ?? `HTTP ${status}`);
  }

  /** The gateway or the service could not answer: try later, nothing is wrong with the input. */
  get unavailable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of a call, or an ApiError (also when the network or the server failed). */
export async function call<T>(request: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await request;
  } catch {
    throw new ApiError(0, null);
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  const problem = error && typeof error === "object" ? (error as Partial<Problem>) : null;
  throw new ApiError(response.status, problem);
}
