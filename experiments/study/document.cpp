#include "experiments/study/document.h"

#include <fmt/format.h>

#include "experiments/study/svg_plot.h"

namespace oa::study {

namespace {

// A quiet, printable page: one column of text, tables with tabular figures, plots in a grid.
constexpr const char* kStyle = R"(
:root { --ink: #1d1d1f; --muted: #6b6b70; --rule: #dcdce0; --good: #1a7f37; --bad: #c62828; --mid: #8a6d00; }
* { box-sizing: border-box; }
body { margin: 0; background: #fafafa; color: var(--ink);
       font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 40px 48px; background: #fff; min-height: 100vh; }
h1 { font-size: 26px; margin: 0 0 6px; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 40px 0 10px; padding-top: 14px; border-top: 1px solid var(--rule); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0 8px;
           color: var(--muted); font-size: 14px; }
dl.facts dt { font-weight: 600; color: var(--ink); }
dl.facts dd { margin: 0; }
p { margin: 8px 0; max-width: 78ch; }
p.how { background: #f4f6fa; border-left: 3px solid #9fb3d1; padding: 8px 12px; font-size: 14px; color: #333; }
p.warn { color: var(--bad); font-weight: 600; }
p.muted { color: var(--muted); }
p.subhead { font-weight: 600; font-size: 16px; margin-top: 22px; }
.table-wrap { overflow-x: auto; }
tr.aside td { color: var(--muted); }
table { border-collapse: collapse; margin: 10px 0 18px; font-size: 13.5px; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; color: #333; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { border-bottom: 2px solid #999; font-weight: 600; vertical-align: bottom; }
td.num { text-align: right; white-space: nowrap; }
td.good { color: var(--good); font-weight: 700; white-space: nowrap; }
td.bad { color: var(--bad); font-weight: 700; white-space: nowrap; }
td.mid { color: var(--mid); font-weight: 700; white-space: nowrap; }
td.muted { color: var(--muted); font-size: 13px; }
td.stat { font-size: 13px; }
table.wide { width: 100%; }
td.strong { font-weight: 700; }
tr.memo td { background: #f6f0fa; font-style: italic; }
tr.bad td { background: #fdecec; }
.figures { display: flex; flex-wrap: wrap; gap: 12px 20px; margin: 8px 0 12px; }
svg.plot { background: #fff; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
@media print { body { background: #fff; } main { padding: 0; } }
)";

// Text with each line break replaced by `tag`.
std::string with_line_breaks(const std::string& text, const std::string& tag) {
  std::string out;
  for (char c : text) out += c == '\n' ? tag : std::string(1, c);
  return out;
}

std::string html_paragraph(const Paragraph& p) {
  const std::string lead = p.lead.empty() ? "" : "<strong>" + escape_xml(p.lead) + "</strong> ";
  const std::string style = p.style.empty() ? "" : fmt::format(" class=\"{}\"", p.style);
  return fmt::format("<p{}>{}{}</p>\n", style, lead, escape_xml(p.text));
}

std::string html_table(const Table& t) {
  std::string html = "<div class=\"table-wrap\">";
  html += t.css_class.empty() ? "<table>\n" : fmt::format("<table class=\"{}\">\n", t.css_class);
  if (!t.caption.empty()) html += "<caption>" + escape_xml(t.caption) + "</caption>\n";
  html += "<thead><tr>";
  for (const auto& h : t.header) html += "<th>" + escape_xml(h) + "</th>";
  html += "</tr></thead>\n<tbody>\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const std::string row_class = r < t.row_classes.size() ? t.row_classes[r] : "";
    html += row_class.empty() ? "<tr>" : fmt::format("<tr class=\"{}\">", row_class);
    for (const auto& cell : t.rows[r]) {
      html += cell.css_class.empty() ? "<td>" : fmt::format("<td class=\"{}\">", cell.css_class);
      html += with_line_breaks(escape_xml(cell.text), "<br>") + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</tbody>\n</table></div>\n";
}

// A Markdown table cell: pipes escaped, line breaks as <br>, verdict colours as bold.
std::string markdown_cell(const Cell& cell) {
  std::string text;
  for (char c : cell.text) text += c == '|' ? std::string("\\|") : std::string(1, c);
  text = with_line_breaks(text, "<br>");
  const bool strong = cell.css_class == "good" || cell.css_class == "bad" || cell.css_class == "mid";
  return strong && !text.empty() ? "**" + text + "**" : text;
}

std::string markdown_table(const Table& t) {
  std::string md;
  if (!t.caption.empty()) md += "*" + t.caption + "*\n\n";
  std::string rule;
  md += "|";
  for (const auto& h : t.header) {
    md += fmt::format(" {} |", markdown_cell(Cell(h)));
    rule += "---|";
  }
  md += "\n|" + rule + "\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    md += "|";
    for (const auto& cell : t.rows[r]) md += fmt::format(" {} |", markdown_cell(cell));
    md += "\n";
  }
  return md + "\n";
}

}  // namespace

std::string render_html(const Document& document) {
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n"
      "<style>{}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
      escape_xml(document.title), kStyle, escape_xml(document.title));
  html += "<dl class=\"facts\">\n";
  for (const auto& [name, value] : document.facts)
    html += fmt::format("<dt>{}</dt><dd>{}</dd>\n", escape_xml(name), escape_xml(value));
  html += "</dl>\n";
  for (const auto& section : document.sections) {
    html += fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n", escape_xml(section.id), escape_xml(section.title));
    for (const auto& block : section.blocks) {
      if (const auto* p = std::get_if<Paragraph>(&block)) html += html_paragraph(*p);
      if (const auto* t = std::get_if<Table>(&block)) html += html_table(*t);
      if (const auto* f = std::get_if<Figures>(&block)) {
        html += "<div class=\"figures\">\n";
        for (const auto& svg : f->svgs) html += svg;
        html += "</div>\n";
      }
    }
    html += "</section>\n";
  }
  html += "<footer>" + escape_xml(document.footer) + "</footer>\n</main>\n</body>\n</html>\n";
  return html;
}

std::string render_markdown(const Document& document) {
  std::string md = "# " + document.title + "\n\n";
  for (const auto& [name, value] : document.facts) md += "- **" + name + "**: " + value + "\n";
  md += "\n";
  for (const auto& section : document.sections) {
    md += "## " + section.title + "\n\n";
    for (const auto& block : section.blocks) {
      if (const auto* p = std::get_if<Paragraph>(&block)) {
        if (p->style == "subhead")
          md += "### " + p->text + "\n\n";
        else
          md += (p->lead.empty() ? "" : "**" + p->lead + "** ") + (p->style == "warn" ? "**" + p->text + "**" : p->text) +
                "\n\n";
      }
      if (const auto* t = std::get_if<Table>(&block)) md += markdown_table(*t);
      if (const auto* f = std::get_if<Figures>(&block))
        md += fmt::format("*({} plot{} in report.html.)*\n\n", f->svgs.size(), f->svgs.size() == 1 ? "" : "s");
    }
  }
  return md + "---\n" + document.footer + "\n";
}

}  // namespace oa::study
