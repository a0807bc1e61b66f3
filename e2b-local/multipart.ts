// multipart/form-data parsing for POST /files (the SDK's `files.write` uploads one part per file).
import { httpError } from "./errors.ts";

export type Part = { name: string; filename?: string; data: Buffer };

export function parseMultipart(body: Buffer, contentType: string): Part[] {
  const match = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!match) throw httpError(400, "multipart boundary missing");
  const boundary = Buffer.from(`--${(match[1] ?? match[2]!).trim()}`);
  const parts: Part[] = [];
  let pos = body.indexOf(boundary);
  while (pos >= 0) {
    let start = pos + boundary.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing boundary
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const headerEnd = body.indexOf("\r\n\r\n", start);
    if (headerEnd < 0) break;
    const headers = body.subarray(start, headerEnd).toString("utf8");
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), boundary]), headerEnd + 4);
    if (next < 0) throw httpError(400, "malformed multipart body");
    const data = body.subarray(headerEnd + 4, next);
    const disp = /content-disposition:([^\r\n]*)/i.exec(headers)?.[1] ?? "";
    const name = /\bname="([^"]*)"/i.exec(disp)?.[1] ?? "";
    const fnStar = /\bfilename\*=(?:UTF-8'')?([^;\r\n]+)/i.exec(disp)?.[1];
    const fn = /\bfilename="((?:[^"\\]|\\.)*)"/i.exec(disp)?.[1];
    let filename: string | undefined;
    if (fnStar) filename = decodeURIComponent(fnStar.trim());
    else if (fn !== undefined)
      filename = fn.replace(/%22/g, '"').replace(/%0D/gi, "\r").replace(/%0A/gi, "\n").replace(/\\(.)/g, "$1");
    parts.push({ name, filename, data });
    pos = next + 2;
  }
  return parts;
}
