/**
 * The listing's upload and file-management controls with `--upload`: HTML forms that work
 * without JavaScript (upload, new folder, rename/move, delete — they post to the folder's
 * own URL, manage_middleware.ts), and one small inline script that makes them better
 * without leaving the page: drag and drop of files *and folders* onto the page
 * (`webkitGetAsEntry`, recursive), a progress bar and a Cancel button per file, uploads in
 * resumable chunks (`PUT` + `Content-Range`, resumable.ts) that ask the server where to go
 * on after a dropped connection, and Rename / Delete buttons per row ("Edit").
 *
 * ```ts
 * import { uploaderHtml, UPLOADER_SCRIPT } from "./uploader_page.ts";
 * const html = uploaderHtml(); // placed after the listing's heading
 * console.log(html.includes(UPLOADER_SCRIPT));
 * ```
 *
 * CSP-friendly: the script is a constant (no request data in it, no `eval`, no inline
 * event attributes; it reads the folder from `location`), so one `script-src 'sha256-…'`
 * covers it. Nothing here is built from request data, so the HTML needs no escaping.
 *
 * @module
 */

/** Bytes per `PUT` of the browser uploader: a dropped connection costs at most this. */
export const UPLOADER_CHUNK_BYTES = 8 * 1024 * 1024;

/** Files the browser uploads at once; the rest wait in line (each can be cancelled). */
export const UPLOADER_PARALLEL_FILES = 3;

/** Retries of one chunk after a network error before the file is marked failed. */
export const UPLOADER_MAX_RETRIES = 5;

const STYLE = `<style>
.drop{border:2px dashed #aaa;border-radius:.5rem;padding:.75rem;margin:0 0 .75rem;color:#666;text-align:center}
body.dragging .drop{border-color:#0645ad;background:rgba(6,69,173,.08)}
.upload button,.manage button,.ops button,.up button{font:inherit;padding:.4rem .8rem;min-height:2.5rem}
.manage{margin:0 0 .75rem}.manage summary{padding:.5rem 0;cursor:pointer}
.manage form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.25rem 0}
.manage input{font:inherit;padding:.4rem;min-width:0;flex:1 1 8rem}
.up{display:grid;grid-template-columns:minmax(0,1fr) auto;gap:.25rem .75rem;align-items:center;padding:.25rem 0}
.up span{overflow-wrap:anywhere}.up progress{grid-column:1;width:100%}.up .note{grid-column:1/-1;font-size:.85rem;color:#666}
.up.err .note{color:#c00}
li .ops{grid-column:1/-1;display:flex;gap:.5rem;padding:0 0 .5rem 2rem}
#sockit-status:empty{display:none}
@media (hover:none){.drop{display:none}}
</style>
`;

/**
 * The uploader, as shipped: written readable, sent with its indentation stripped (lines
 * kept, so no statement changes meaning): ~8 KiB, ~3 KiB gzipped.
 * The upload protocol: `PUT url` with `Content-Range: bytes *&#47;SIZE` → 308 with `Range`
 * (or none) gives the offset; then chunks of {@link UPLOADER_CHUNK_BYTES}; after a network
 * error ask again and resume, up to {@link UPLOADER_MAX_RETRIES} times in a row.
 */
export const UPLOADER_SCRIPT: string = `(() => {
const CHUNK = ${UPLOADER_CHUNK_BYTES}, RETRIES = ${UPLOADER_MAX_RETRIES};
const PARALLEL = ${UPLOADER_PARALLEL_FILES};
const base = location.pathname, list = document.getElementById("sockit-uploads");
const status = document.getElementById("sockit-status");
const enc = (p) => p.split("/").map(encodeURIComponent).join("/");
const say = (t) => { status.textContent = t; };
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const offsetOf = (x) => { const m = /bytes=0-(\\d+)/.exec(x.getResponseHeader("Range") || ""); return m ? +m[1] + 1 : 0; };
let running = 0;

async function refresh() {
  const res = await fetch(location.href, { headers: { Accept: "text/html" } });
  const doc = new DOMParser().parseFromString(await res.text(), "text/html");
  // The icon sprite too: it defines only the icons the page it came with uses.
  for (const sel of ["svg.sprite", "body > ul", "footer"]) {
    const fresh = doc.querySelector(sel), old = document.querySelector(sel);
    if (fresh && old) old.replaceWith(document.adoptNode(fresh));
  }
  if (editing) addOps();
}

function row(label) {
  const r = document.createElement("div");
  r.className = "up";
  r.innerHTML = "<span></span><button type=button>Cancel</button><progress max=1 value=0></progress><span class=note></span>";
  r.firstChild.textContent = label;
  list.append(r);
  return r;
}

function queued(file, rel) {
  const job = { file, rel, r: row(rel), x: null, cancelled: false };
  job.r.querySelector(".note").textContent = "waiting";
  job.r.querySelector("button").addEventListener("click", () => {
    job.cancelled = true;
    if (job.x) job.x.abort();
    job.r.classList.add("err");
    job.r.querySelector(".note").textContent = "cancelled";
  });
  return job;
}

async function upload(job) {
  const { file, r } = job, bar = r.querySelector("progress"), note = r.querySelector(".note");
  const size = file.size, url = base + enc(job.rel);
  let resumedAt = 0;
  note.textContent = "";
  const req = (headers, body, onProgress) => new Promise((ok, fail) => {
    const x = new XMLHttpRequest();
    job.x = x;
    x.open("PUT", url);
    for (const k in headers) x.setRequestHeader(k, headers[k]);
    if (onProgress) x.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    x.onload = () => ok(x);
    x.onerror = x.ontimeout = () => fail(new Error("network error"));
    x.onabort = () => fail(new Error("cancelled"));
    x.send(body);
  });
  const show = (n) => { bar.value = size ? n / size : 1; };
  const refused = (x) => Object.assign(new Error(x.status + " " + x.responseText.trim()), { final: true });
  try {
    if (size === 0) {
      const x = await req({}, file);
      if (x.status !== 201 && x.status !== 204) throw refused(x);
    } else {
      for (let tries = 0; ; ) {
        try {
          const q = await req({ "Content-Range": "bytes */" + size }, null);
          if (q.status !== 308) throw refused(q);
          let off = offsetOf(q);
          if (off > 0) note.textContent = "resuming at byte " + (resumedAt = off);
          show(off);
          for (;;) {
            const end = Math.min(off + CHUNK, size), from = off;
            const x = await req({ "Content-Range": "bytes " + from + "-" + (end - 1) + "/" + size },
              file.slice(from, end), (n) => show(from + n));
            if (x.status === 308) { off = offsetOf(x); tries = 0; show(off); continue; }
            if (x.status === 201 || x.status === 204) break;
            throw refused(x);
          }
          break;
        } catch (e) {
          if (job.cancelled || e.final || ++tries > RETRIES) throw e;
          note.textContent = "connection lost, retrying…";
          await sleep(500 * tries);
        }
      }
    }
    show(size);
    r.classList.add("done");
    r.querySelector("button").remove();
    note.textContent = resumedAt ? "done, resumed at byte " + resumedAt : "done";
  } catch (e) {
    r.classList.add("err");
    note.textContent = job.cancelled ? "cancelled" : e.message;
    const cancel = r.querySelector("button");
    if (cancel) cancel.remove();
  }
}

async function post(url, params) {
  const res = await fetch(url, { method: "POST", body: new URLSearchParams(params) });
  if (!res.ok) throw new Error(res.status + " " + (await res.text()).trim());
}

async function mkdir(rel) {
  const slash = rel.lastIndexOf("/");
  const res = await fetch(base + enc(rel.slice(0, slash + 1)) + "?mkdir=" + encodeURIComponent(rel.slice(slash + 1)), { method: "POST" });
  if (!res.ok && res.status !== 409) throw new Error(res.status + " " + (await res.text()).trim());
}

function readAll(reader) {
  return new Promise((ok, fail) => {
    const out = [];
    const next = () => reader.readEntries((batch) => batch.length ? (out.push(...batch), next()) : ok(out), fail);
    next();
  });
}

async function walk(entry, prefix, files, dirs) {
  if (entry.isFile) {
    files.push([await new Promise((ok, fail) => entry.file(ok, fail)), prefix + entry.name]);
  } else if (entry.isDirectory) {
    dirs.push(prefix + entry.name);
    for (const child of await readAll(entry.createReader())) await walk(child, prefix + entry.name + "/", files, dirs);
  }
}

async function uploadAll(files, dirs) {
  try {
    for (const d of dirs) await mkdir(d);
  } catch (e) {
    say("new folder failed: " + e.message);
    return;
  }
  const jobs = files.map(([file, rel]) => queued(file, rel));
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      if (!job.cancelled) await upload(job);
    }
  };
  running++;
  try {
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  } finally {
    if (--running === 0) await refresh();
  }
}

document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) document.body.classList.remove("dragging"); });
document.addEventListener("drop", async (e) => {
  e.preventDefault();
  document.body.classList.remove("dragging");
  const files = [], dirs = [], entries = [];
  for (const item of e.dataTransfer.items) {
    const entry = item.kind === "file" && item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
  }
  if (entries.length) for (const entry of entries) await walk(entry, "", files, dirs);
  else for (const f of e.dataTransfer.files) files.push([f, f.name]);
  await uploadAll(files, dirs);
});

document.querySelector("form.upload").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.querySelector("input[type=file]");
  uploadAll([...input.files].map((f) => [f, f.name]), []);
  input.value = "";
});

for (const form of document.querySelectorAll(".manage form")) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    if (e.submitter && e.submitter.name) data.append(e.submitter.name, e.submitter.value);
    try {
      await post(base, data);
      form.reset();
      say("");
      await refresh();
    } catch (err) {
      say(err.message);
    }
  });
}

let editing = false;
function addOps() {
  for (const a of document.querySelectorAll("body > ul li:not(.head):not(.find) > a")) {
    const href = a.getAttribute("href");
    if (href === "../" || a.parentNode.querySelector(".ops")) continue;
    const name = decodeURIComponent(href.replace(/\\/$/, "")), folder = href.endsWith("/");
    const ops = document.createElement("span");
    ops.className = "ops";
    ops.innerHTML = "<button type=button class=rename>Rename</button><button type=button class=delete>Delete</button>";
    ops.querySelector(".rename").addEventListener("click", () => {
      const form = document.querySelector(".manage form.move");
      form.path.value = name;
      form.move.value = name;
      document.querySelector(".manage").open = true;
      form.move.focus();
    });
    const del = ops.querySelector(".delete");
    del.addEventListener("click", async () => {
      if (!del.dataset.armed) { del.dataset.armed = "1"; del.textContent = "Sure? Delete"; return; }
      const params = { path: name, delete: "1" };
      if (del.dataset.armed === "all") params.recursive = "1";
      try {
        await post(base, params);
        say("deleted " + name);
        await refresh();
      } catch (err) {
        if (folder && err.message.startsWith("409")) { del.dataset.armed = "all"; del.textContent = "Not empty: delete all?"; }
        say(err.message);
      }
    });
    a.parentNode.append(ops);
  }
}
const edit = document.createElement("button");
edit.type = "button";
edit.className = "edit";
edit.textContent = "Edit";
edit.addEventListener("click", () => {
  editing = !editing;
  edit.textContent = editing ? "Stop editing" : "Edit";
  if (editing) addOps(); else for (const o of document.querySelectorAll(".ops")) o.remove();
});
document.querySelector("form.upload").append(edit);
document.querySelector(".drop").hidden = false;
})();`.replace(/^[ ]+/gm, "");

/**
 * The HTML after the listing's heading with `--upload`: the drop zone (shown by the
 * script), the plain upload form, the management forms in a `<details>`, the status
 * line, the per-file progress rows, and the script.
 */
export function uploaderHtml(): string {
  return STYLE +
    `<div class="drop" hidden>Drop files or folders here to upload them</div>\n` +
    `<form class="upload" method="post" action="./" enctype="multipart/form-data">` +
    `<input type="file" name="file" multiple required> <button type="submit">Upload</button>` +
    `</form>\n` +
    `<details class="manage"><summary>New folder, rename, delete</summary>\n` +
    `<form class="mkdir" method="post" action="./"><input name="mkdir" required ` +
    `placeholder="New folder name" aria-label="New folder name">` +
    `<button type="submit">Create folder</button></form>\n` +
    `<form class="move" method="post" action="./"><input name="path" required ` +
    `placeholder="Name in this folder" aria-label="Name in this folder">` +
    `<input name="move" placeholder="New name or /path" aria-label="New name or /path">` +
    `<button type="submit">Rename / move</button>` +
    `<button type="submit" name="delete" value="1">Delete</button>` +
    `<label><input type="checkbox" name="recursive" value="1"> a folder with its contents` +
    `</label></form>\n` +
    `</details>\n<p id="sockit-status" role="status"></p><div id="sockit-uploads"></div>\n` +
    `<script>${UPLOADER_SCRIPT}</script>\n`;
}
