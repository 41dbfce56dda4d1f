/* Content Audit report tables: each section's rows come as JSON in a data block (type application/json);
   this renders them a page at a time, sorts on a header click and filters as you type.
   Page text is only ever set as textContent, never parsed as HTML. */
(function () {
  "use strict";
  var PAGE = 50, PRINT_ROWS = 500;
  var tables = [];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function isUrl(s) { return typeof s === "string" && /^https?:\/\//i.test(s); }
  function shortUrl(s) { return s.replace(/^https?:\/\//i, ""); }
  var LIST_OPEN = 3;   // lists longer than this are folded into <details>
  function plural(word) { return /(s|x|z|ch|sh)$/.test(word) ? word + "es" : /[^aeiou]y$/.test(word) ? word.slice(0, -1) + "ies" : word + "s"; }
  function fmt(v) { return typeof v === "number" ? v.toLocaleString("en") : v; }

  function cellContent(td, value, type) {
    if (value === null || value === undefined || value === "") { td.textContent = ""; return; }
    if (type === "url") {
      td.classList.add("url");
      if (isUrl(value)) {
        var a = el("a", null, shortUrl(value));
        a.href = value; a.rel = "noopener noreferrer"; a.target = "_blank";
        td.appendChild(a);
      } else td.textContent = value;
    } else if (type === "sev" || type === "status") {
      td.appendChild(el("span", "badge " + type + "-" + String(value).replace(/[^a-z]/g, ""), value));
    } else if (type === "list") {
      var ul = el("ul");
      for (var i = 0; i < value.length; i++) {
        var li = el("li");
        cellContent(li, value[i], isUrl(value[i]) ? "url" : "text");
        ul.appendChild(li);
      }
      if (value.length > LIST_OPEN) {
        // A block on 25 pages is one line that opens, not 25 bullets.
        var n = value.length, more = /^… and (\d+) more$/.exec(value[value.length - 1]);
        if (more) n += parseInt(more[1], 10) - 1;
        var details = el("details"), summary = el("summary", null, "on " + fmt(n) + " pages");
        details.appendChild(summary); details.appendChild(ul);
        td.appendChild(details);
      } else td.appendChild(ul);
    } else if (type === "num") {
      td.className = "n"; td.textContent = fmt(value);
    } else if (type === "bool") {
      td.textContent = value ? "yes" : "no";
    } else {
      td.textContent = value;
      // A short single word (a finding kind) is not broken across lines.
      if (typeof value === "string" && value.length <= 20 && !/\s/.test(value)) td.classList.add("token");
    }
  }

  function Table(root) {
    var spec = JSON.parse(document.getElementById(root.getAttribute("data-src")).textContent);
    this.root = root;
    this.cols = spec.columns;
    this.rows = spec.rows;
    this.total = spec.total;
    this.csv = spec.csv;
    this.group = -1;
    for (var i = 0; i < this.cols.length; i++) if (this.cols[i].key === spec.group) this.group = i;
    this.facets = spec.facets || [];
    this.view = this.rows;
    this.page = 0;
    this.sortCol = -1;
    this.sortDir = 1;
    this.query = "";
    this.facetValues = {};
    this.search = null;
    this.build();
    this.render();
  }

  Table.prototype.build = function () {
    var self = this, root = this.root;
    root.classList.add("dt");
    if (!this.rows.length) {
      root.appendChild(el("p", "empty", this.total ? "" : "None."));
      return;
    }
    var bar = el("div", "dt-bar");
    var input = el("input");
    input.type = "search"; input.placeholder = "Filter…"; input.setAttribute("aria-label", "Filter rows");
    input.addEventListener("input", function () { self.query = input.value.toLowerCase(); self.apply(); });
    bar.appendChild(input);
    this.selects = {};
    this.facets.forEach(function (key) {
      var idx = self.colIndex(key);
      if (idx < 0) return;
      var seen = {}, values = [];
      self.rows.forEach(function (r) { var v = r[idx]; if (v !== null && !seen[v]) { seen[v] = 1; values.push(v); } });
      values.sort();
      var sel = el("select");
      sel.setAttribute("aria-label", "Filter by " + self.cols[idx].label);
      sel.appendChild(el("option", null, "all " + plural(self.cols[idx].label))).value = "";
      values.forEach(function (v) { var o = el("option", null, v); o.value = v; sel.appendChild(o); });
      sel.addEventListener("change", function () { self.facetValues[idx] = sel.value; self.apply(); });
      self.selects[key] = sel;
      bar.appendChild(sel);
    });
    this.count = el("span", "dt-count");
    bar.appendChild(this.count);
    root.appendChild(bar);

    var table = el("table"), thead = el("thead"), tr = el("tr");
    this.ths = [];
    this.cols.forEach(function (c, i) {
      var th = el("th");
      if (c.type === "num") th.className = "n";
      var b = el("button", null, c.label);
      b.type = "button";
      b.addEventListener("click", function () { self.sortBy(i); });
      th.appendChild(b);
      tr.appendChild(th);
      self.ths.push(th);
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    this.tbody = el("tbody");
    table.appendChild(this.tbody);
    var scroll = el("div", "dt-scroll");   // a wide table scrolls in its box, not the whole page
    scroll.appendChild(table);
    root.appendChild(scroll);

    var pager = el("div", "dt-pager");
    this.prev = el("button", null, "‹ Previous"); this.prev.type = "button";
    this.next = el("button", null, "Next ›"); this.next.type = "button";
    this.pageInfo = el("span");
    this.prev.addEventListener("click", function () { self.page--; self.render(); });
    this.next.addEventListener("click", function () { self.page++; self.render(); });
    pager.appendChild(this.prev); pager.appendChild(this.pageInfo); pager.appendChild(this.next);
    root.appendChild(pager);
    if (this.total > this.rows.length) {
      root.appendChild(el("p", "dt-more", "Showing the first " + fmt(this.rows.length) + " of " +
        fmt(this.total) + " rows here" + (this.csv ? "; " + this.csv + " has them all." : ".")));
    }
  };

  Table.prototype.colIndex = function (key) {
    for (var i = 0; i < this.cols.length; i++) if (this.cols[i].key === key) return i;
    return -1;
  };

  Table.prototype.setFacet = function (key, value) {
    var idx = this.colIndex(key), sel = this.selects && this.selects[key];
    if (idx < 0 || !sel) return;
    sel.value = value;
    this.facetValues[idx] = sel.value;
    this.apply();
  };

  Table.prototype.apply = function () {
    var q = this.query, facets = this.facetValues, rows = this.rows;
    if (q && !this.search) {
      this.search = rows.map(function (r) {
        return r.map(function (v) { return v === null ? "" : (Array.isArray(v) ? v.join(" ") : String(v)); })
          .join("\u0001").toLowerCase();
      });
    }
    var out = [];
    for (var i = 0; i < rows.length; i++) {
      var ok = !q || this.search[i].indexOf(q) >= 0;
      for (var k in facets) if (ok && facets[k] && rows[i][k] !== facets[k]) ok = false;
      if (ok) out.push(rows[i]);
    }
    this.view = out;
    if (this.sortCol >= 0) this.sortView();
    this.page = 0;
    this.render();
  };

  Table.prototype.sortBy = function (i) {
    this.sortDir = this.sortCol === i ? -this.sortDir : 1;
    this.sortCol = i;
    this.sortView();
    this.page = 0;
    this.render();
  };

  Table.prototype.sortView = function () {
    var i = this.sortCol, dir = this.sortDir, g = this.group;
    function cmp(a, b) {
      if (a === b) return 0;
      if (a === null || a === undefined) return 1;
      if (b === null || b === undefined) return -1;
      if (typeof a === "number" && typeof b === "number") return a - b;
      return String(a).localeCompare(String(b));
    }
    this.view = this.view.slice().sort(function (a, b) {
      var c = cmp(a[i], b[i]) * dir;
      return c || (g >= 0 ? cmp(a[g], b[g]) : 0);
    });
    for (var k = 0; k < this.ths.length; k++) this.ths[k].removeAttribute("aria-sort");
    this.ths[i].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
  };

  Table.prototype.render = function (all) {
    if (!this.rows.length) return;
    var n = this.view.length, pages = Math.max(1, Math.ceil(n / PAGE));
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    var start = all ? 0 : this.page * PAGE, end = all ? Math.min(n, PRINT_ROWS) : Math.min(n, start + PAGE);
    var frag = document.createDocumentFragment(), cols = this.cols, g = this.group, last;
    for (var r = start; r < end; r++) {
      var row = this.view[r], tr = el("tr");
      var repeat = g >= 0 && r > start && row[g] === last;
      if (g >= 0 && !repeat && r > start) tr.className = "group-start";
      last = g >= 0 ? row[g] : null;
      for (var c = 0; c < cols.length; c++) {
        var td = el("td");
        cellContent(td, row[c], cols[c].type);
        if (c === g && repeat) td.classList.add("grouped");
        if (cols[c].type === "text" && typeof row[c] === "string" && row[c].length > 80) td.classList.add("wide");
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    this.tbody.textContent = "";
    this.tbody.appendChild(frag);
    this.count.textContent = fmt(n) + (n === this.rows.length ? "" : " of " + fmt(this.rows.length)) + " rows";
    this.pageInfo.textContent = n ? "page " + (this.page + 1) + " of " + pages : "no rows match";
    this.prev.disabled = all || this.page === 0;
    this.next.disabled = all || this.page >= pages - 1;
    this.root.setAttribute("data-rendered", String(end - start));
  };

  var nodes = document.querySelectorAll(".datatable[data-src]");
  for (var i = 0; i < nodes.length; i++) tables.push(new Table(nodes[i]));

  // The health table's kinds open the worklist filtered to that kind.
  var findings = null;
  tables.forEach(function (t) { if (t.root.getAttribute("data-src") === "t-findings") findings = t; });
  document.querySelectorAll("a.kind[data-kind]").forEach(function (a) {
    a.addEventListener("click", function () { if (findings) findings.setFacet("kind", a.getAttribute("data-kind")); });
  });

  // Printing shows more than one page of each table.
  window.addEventListener("beforeprint", function () { tables.forEach(function (t) { t.render(true); }); });
  window.addEventListener("afterprint", function () { tables.forEach(function (t) { t.render(); }); });
  document.documentElement.setAttribute("data-report-ready", "1");
})();
