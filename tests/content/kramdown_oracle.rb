# The oracle for the body contract (docs/contracts/content.md): kramdown with GFM input and
# Jekyll's default options, as the site itself renders. One process for many documents, so the
# corpus test pays Ruby's start-up once: reads a JSON array of Markdown strings on stdin, prints
# a JSON array of HTML strings.
require "json"
require "kramdown"
require "kramdown-parser-gfm"

# Jekyll's DEFAULTS["kramdown"] (lib/jekyll/configuration.rb).
OPTIONS = {
  input: "GFM",
  auto_ids: true,
  toc_levels: (1..6).to_a,
  entity_output: :as_char,
  smart_quotes: %w[lsquo rsquo ldquo rdquo],
  hard_wrap: false,
  footnote_nr: 1,
  syntax_highlighter: nil,
}.freeze

sources = JSON.parse($stdin.read)
rendered = sources.map { |source| Kramdown::Document.new(source, OPTIONS).to_html }
$stdout.write(JSON.generate(rendered))
