#pragma once
// The report as a plain document (sections of paragraphs, tables and figures), written out
// once as HTML (one self-contained file: inline CSS and SVG, no script) and once as Markdown
// (the same text and tables; figures only in the HTML).
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace oa::study {

// A table cell (a line break in its text breaks the line). css_class colours or aligns it in
// the HTML ("good", "bad", "mid", "muted", "num", "strong", "stat"); in Markdown the verdict
// colours ("good", "bad", "mid") are written in bold.
struct Cell {
  std::string text;
  std::string css_class;
  Cell(std::string t = "", std::string c = "") : text(std::move(t)), css_class(std::move(c)) {}
  Cell(const char* t) : text(t) {}
};

struct Table {
  Table(std::string caption_, std::vector<std::string> header_)
      : caption(std::move(caption_)), header(std::move(header_)) {}
  std::string caption;
  std::vector<std::string> header;
  std::vector<std::vector<Cell>> rows;
  std::vector<std::string> row_classes;  // empty, or one class per row ("memo", "bad", "aside")
  std::string css_class;                 // "wide": the full width of the page
};

// A paragraph; `lead` is set in bold before it ("How to read this."). Style "how" sets the
// paragraph apart as reading help, "warn" in red, "muted" in grey, "subhead" as a heading.
struct Paragraph {
  std::string text;
  std::string lead;
  std::string style;
};

// Inline SVG figures side by side (HTML only).
struct Figures {
  std::vector<std::string> svgs;
};

using Block = std::variant<Paragraph, Table, Figures>;

struct Section {
  std::string id, title;
  std::vector<Block> blocks;
};

struct Document {
  std::string title;
  std::vector<std::pair<std::string, std::string>> facts;  // (name, value) under the title
  std::vector<Section> sections;
  std::string footer;
};

std::string render_html(const Document& document);
std::string render_markdown(const Document& document);

}  // namespace oa::study
