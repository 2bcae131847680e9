// Direct-to-storage upload from the browser: one presigned PUT for a small file, or S3 multipart with
// presigned part URLs, several parts at once, resumable after a reload (the upload id is kept in
// localStorage; the parts already stored are asked of the upload service, ETags included).
import { api, ApiError } from "./api.js";
import { bytes } from "./ui.js";

const PARALLEL_PARTS = 3;
const PRESIGN_BATCH = 100;
const RESUME_PREFIX = "codex.upload:";
// A page may not set these; the browser does (Content-Length is in the ticket for scripts).
const FORBIDDEN = new Set(["content-length", "host", "connection", "expect"]);
const TYPES = { mp4: "video/mp4", m4v: "video/mp4", mov: "video/quicktime", webm: "video/webm", mkv: "video/x-matroska" };

function contentType(file) {
  return file.type || TYPES[file.name.split(".").pop().toLowerCase()] || "application/octet-stream";
}

function resumeKey(file) {
  return `${RESUME_PREFIX}${file.name}:${file.size}:${file.lastModified}`;
}

/** What S3 says in its XML error body, in words. */
function storeMessage(text) {
  const doc = new DOMParser().parseFromString(text || "", "application/xml");
  const code = doc.querySelector("Code")?.textContent;
  const message = doc.querySelector("Message")?.textContent;
  return [code, message].filter(Boolean).join(": ") || "no reason given";
}

/** PUT `body` to a presigned URL, reporting bytes sent; resolves to the ETag header (null if hidden by CORS). */
function putTo(url, body, headers, onBytes) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers || {})) {
      if (!FORBIDDEN.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => onBytes(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.getResponseHeader("ETag"));
      else reject(new ApiError(xhr.status, xhr.responseText, `The object store refused the upload (${xhr.status}): ${storeMessage(xhr.responseText)}`));
    };
    xhr.onerror = () =>
      reject(new ApiError(0, null, "The object store could not be reached, or did not allow this page to upload (bucket CORS)."));
    xhr.send(body);
  });
}

async function openTicket(file) {
  const saved = JSON.parse(localStorage.getItem(resumeKey(file)) || "null");
  if (saved) {
    try {
      const upload = await api(`/uploads/${saved.upload_id}`);
      if (upload.state === "pending" || upload.state === "uploading") return { ...saved, resumed: true };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
    }
    localStorage.removeItem(resumeKey(file));
  }
  const ticket = await api("/uploads", {
    method: "POST",
    body: { filename: file.name, content_type: contentType(file), size_bytes: file.size },
  });
  if (ticket.method === "multipart") {
    const { upload_id, part_size, part_count } = ticket;
    localStorage.setItem(resumeKey(file), JSON.stringify({ upload_id, method: "multipart", part_size, part_count }));
  }
  return ticket;
}

async function uploadParts(file, ticket, report) {
  const { upload_id: id, part_size: partSize, part_count: partCount } = ticket;
  const stored = ticket.resumed ? (await api(`/uploads/${id}/parts`)).parts : [];
  const etags = new Map(stored.map((part) => [part.number, part.etag]));
  let done = stored.reduce((sum, part) => sum + part.size_bytes, 0);
  const inFlight = new Map();
  const progress = () => {
    const sent = done + [...inFlight.values()].reduce((a, b) => a + b, 0);
    report(sent, `${bytes(sent)} of ${bytes(file.size)} · ${etags.size} of ${partCount} parts stored`);
  };
  if (etags.size) progress();
  const missing = [];
  for (let number = 1; number <= partCount; number += 1) if (!etags.has(number)) missing.push(number);
  for (let start = 0; start < missing.length; start += PRESIGN_BATCH) {
    const batch = missing.slice(start, start + PRESIGN_BATCH);
    const { parts } = await api(`/uploads/${id}/parts`, { method: "POST", body: { part_numbers: batch } });
    const queue = [...parts];
    const worker = async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        const offset = (part.number - 1) * partSize;
        const chunk = file.slice(offset, offset + part.size_bytes);
        inFlight.set(part.number, 0);
        const etag = await putTo(part.url, chunk, {}, (sent) => {
          inFlight.set(part.number, sent);
          progress();
        });
        inFlight.delete(part.number);
        if (!etag) {
          throw new ApiError(0, null, "The object store did not let this page read the part's ETag (bucket CORS must expose ETag).");
        }
        etags.set(part.number, etag);
        done += part.size_bytes;
        progress();
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, worker));
  }
  return [...etags].sort((a, b) => a[0] - b[0]).map(([number, etag]) => ({ number, etag }));
}

/**
 * Upload `file`; `onProgress(percent, words)` while bytes move. Resolves to the completed upload
 * (the upload service has checked the object in the store).
 */
export async function uploadFile(file, onProgress) {
  const report = (sent, words) => onProgress((100 * sent) / Math.max(1, file.size), words);
  const ticket = await openTicket(file);
  let body = {};
  if (ticket.method === "put") {
    await putTo(ticket.url, file, ticket.headers, (sent) => report(sent, `${bytes(sent)} of ${bytes(file.size)}`));
  } else {
    body = { parts: await uploadParts(file, ticket, report) };
  }
  report(file.size, "Checking the file in the store…");
  const upload = await api(`/uploads/${ticket.upload_id}/complete`, { method: "POST", body });
  localStorage.removeItem(resumeKey(file));
  return upload;
}
