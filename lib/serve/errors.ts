/**
 * OpenAI-style error responses: `{"error": {"message", "type", "param", "code"}}` with the HTTP status
 * that says whose fault it was.
 *
 * @module
 */

/** An error a request handler answers with instead of a result. */
export class ApiError extends Error {
  /** Creates an error answered with `status`; `param` names the offending request field, if any. */
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type: string = status >= 500 ? "internal_server_error" : "invalid_request_error",
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A 400 naming the request field at fault. */
export function badRequest(message: string, param: string | null = null): ApiError {
  return new ApiError(400, message, param);
}

/** The JSON response of an error. */
export function errorResponse(e: ApiError): Response {
  return Response.json(
    { error: { message: e.message, type: e.type, param: e.param, code: e.code ?? String(e.status) } },
    { status: e.status },
  );
}
