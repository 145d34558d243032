//! Written by `benches/common/generated.rs` (`chain_source`); do not edit:
//! `SWITCHYARD_BLESS=1 cargo test --test bench_chains` rewrites it.

use switchyard::{Step, TagValue};

/// The generated policies' guard: untrusted input needs an injection-tested model,
/// which only `premium` has.
#[inline(always)]
fn guarded(
    s: &Step,
    tier: &'static str,
    rule: Option<&'static str>,
) -> (&'static str, Option<&'static str>) {
    if s.untrusted_input && tier != "premium" {
        ("premium", rule)
    } else {
        (tier, rule)
    }
}

/// The generated policy of 50 rules, written by hand as an if-chain.
pub fn generated_50(s: &Step) -> (&'static str, Option<&'static str>) {
    let tokens = s.input_tokens.unwrap_or(0);
    let role = s.role.as_str();
    if (59269..63701).contains(&tokens) && s.dependent_tool_calls > 7 {
        return guarded(s, "cheap", Some("r0"));
    }
    if (53563..76234).contains(&tokens)
        && s.dependent_tool_calls > 6
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r1"));
    }
    if (role == "tool_call" || role == "reason") && (22073..36144).contains(&tokens) {
        return guarded(s, "premium", Some("r2"));
    }
    if role == "plan" && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r3"));
    }
    if role == "plan" && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r4"));
    }
    if (role == "reason" || role == "summarize")
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r5"));
    }
    if (role == "classify" || role == "reason")
        && !s.needs_chain_of_thought
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r6"));
    }
    if role == "classify" && (16096..70844).contains(&tokens) {
        return guarded(s, "premium", Some("r7"));
    }
    if (role == "classify" || role == "format")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r8"));
    }
    if role == "classify"
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r9"));
    }
    if (role == "plan" || role == "format") && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r10"));
    }
    if (role == "reason" || role == "summarize")
        && (23986..31990).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r11"));
    }
    if (role == "reason" || role == "summarize") && (30514..41306).contains(&tokens) {
        return guarded(s, "cheap", Some("r12"));
    }
    if (role == "format" || role == "plan") && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r13"));
    }
    if (role == "tool_call" || role == "summarize")
        && (8387..22095).contains(&tokens)
        && s.dependent_tool_calls > 0
    {
        return guarded(s, "premium", Some("r14"));
    }
    if (role == "summarize" || role == "format") && s.dependent_tool_calls > 3 {
        return guarded(s, "cheap", Some("r15"));
    }
    if (role == "format" || role == "classify")
        && (17647..40652).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r16"));
    }
    if (role == "plan" || role == "summarize")
        && (45401..50266).contains(&tokens)
        && s.dependent_tool_calls > 2
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r17"));
    }
    if (role == "summarize" || role == "reason")
        && !s.needs_chain_of_thought
        && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r18"));
    }
    if role == "plan" && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US") {
        return guarded(s, "standard", Some("r19"));
    }
    if s.dependent_tool_calls > 2
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r20"));
    }
    if (role == "format" || role == "extract")
        && (48646..72508).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r21"));
    }
    if (3520..26577).contains(&tokens) && !s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r22"));
    }
    if (role == "format" || role == "extract") && !s.output_must_be_json {
        return guarded(s, "standard", Some("r23"));
    }
    if role == "classify" && s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "standard", Some("r24"));
    }
    if (role == "summarize" || role == "format")
        && (27153..39328).contains(&tokens)
        && !s.needs_chain_of_thought
        && s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r25"));
    }
    if role == "classify" && (41769..96469).contains(&tokens) {
        return guarded(s, "cheap", Some("r26"));
    }
    if s.dependent_tool_calls > 7 && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r27"));
    }
    if (role == "format" || role == "plan") && (40525..41454).contains(&tokens) {
        return guarded(s, "premium", Some("r28"));
    }
    if (role == "extract" || role == "format")
        && (29342..56733).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r29"));
    }
    if (role == "format" || role == "tool_call") && (10884..52287).contains(&tokens) {
        return guarded(s, "premium", Some("r30"));
    }
    if (role == "plan" || role == "classify")
        && (55540..59664).contains(&tokens)
        && s.dependent_tool_calls > 7
        && s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r31"));
    }
    if (role == "extract" || role == "classify")
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r32"));
    }
    if role == "reason" && s.dependent_tool_calls > 7 && s.output_must_be_json {
        return guarded(s, "premium", Some("r33"));
    }
    if (role == "tool_call" || role == "extract") && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r34"));
    }
    if (role == "format" || role == "tool_call")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r35"));
    }
    if (role == "format" || role == "classify") && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r36"));
    }
    if (role == "plan" || role == "summarize") && (4983..53671).contains(&tokens) {
        return guarded(s, "cheap", Some("r37"));
    }
    if s.dependent_tool_calls > 6 && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r38"));
    }
    if (role == "classify" || role == "extract")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r39"));
    }
    if (56446..105474).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r40"));
    }
    if (role == "reason" || role == "summarize")
        && (28042..76186).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r41"));
    }
    if (21108..41272).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r42"));
    }
    if (role == "summarize" || role == "format") && s.dependent_tool_calls > 4 {
        return guarded(s, "premium", Some("r43"));
    }
    if (role == "tool_call" || role == "summarize") && s.dependent_tool_calls > 6 {
        return guarded(s, "cheap", Some("r44"));
    }
    if (role == "format" || role == "extract")
        && !s.needs_chain_of_thought
        && !s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r45"));
    }
    if (role == "reason" || role == "tool_call")
        && (597..8994).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r46"));
    }
    if (role == "classify" || role == "plan")
        && (8235..44971).contains(&tokens)
        && s.dependent_tool_calls > 8
        && s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r47"));
    }
    if (role == "plan" || role == "tool_call") && !s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r48"));
    }
    if (40275..57729).contains(&tokens) && !s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "standard", Some("r49"));
    }
    guarded(s, "standard", None)
}

/// The generated policy of 500 rules, written by hand as an if-chain.
pub fn generated_500(s: &Step) -> (&'static str, Option<&'static str>) {
    let tokens = s.input_tokens.unwrap_or(0);
    let role = s.role.as_str();
    if (role == "summarize" || role == "classify") && (31923..80376).contains(&tokens) {
        return guarded(s, "cheap", Some("r0"));
    }
    if (role == "extract" || role == "reason")
        && (40125..85909).contains(&tokens)
        && s.needs_chain_of_thought
        && !s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r1"));
    }
    if (role == "tool_call" || role == "summarize") && (37358..92106).contains(&tokens) {
        return guarded(s, "cheap", Some("r2"));
    }
    if (role == "format" || role == "plan")
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r3"));
    }
    if !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r4"));
    }
    if s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "cheap", Some("r5"));
    }
    if role == "summarize"
        && (9394..23910).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r6"));
    }
    if (role == "plan" || role == "format")
        && (14497..38379).contains(&tokens)
        && s.dependent_tool_calls > 9
    {
        return guarded(s, "premium", Some("r7"));
    }
    if s.dependent_tool_calls > 6 && !s.output_must_be_json {
        return guarded(s, "standard", Some("r8"));
    }
    if role == "tool_call"
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r9"));
    }
    if (role == "reason" || role == "plan")
        && (41009..62079).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "premium", Some("r10"));
    }
    if (role == "extract" || role == "format") && (55537..77505).contains(&tokens) {
        return guarded(s, "cheap", Some("r11"));
    }
    if role == "plan" && !s.output_must_be_json {
        return guarded(s, "standard", Some("r12"));
    }
    if (role == "tool_call" || role == "classify") && (4234..16620).contains(&tokens) {
        return guarded(s, "premium", Some("r13"));
    }
    if (role == "tool_call" || role == "reason") && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r14"));
    }
    if (5222..39649).contains(&tokens) && s.dependent_tool_calls > 7 {
        return guarded(s, "cheap", Some("r15"));
    }
    if (role == "reason" || role == "format") && (52976..93526).contains(&tokens) {
        return guarded(s, "cheap", Some("r16"));
    }
    if (53014..103879).contains(&tokens) && !s.output_must_be_json {
        return guarded(s, "standard", Some("r17"));
    }
    if (role == "format" || role == "tool_call") && (49579..72737).contains(&tokens) {
        return guarded(s, "premium", Some("r18"));
    }
    if (role == "summarize" || role == "classify")
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r19"));
    }
    if role == "plan" && (12955..19511).contains(&tokens) {
        return guarded(s, "standard", Some("r20"));
    }
    if (role == "tool_call" || role == "summarize")
        && (46692..49608).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r21"));
    }
    if (1000..7249).contains(&tokens) && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r22"));
    }
    if (role == "tool_call" || role == "plan")
        && s.dependent_tool_calls > 3
        && s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r23"));
    }
    if (50929..55611).contains(&tokens) && s.dependent_tool_calls > 1 {
        return guarded(s, "cheap", Some("r24"));
    }
    if role == "summarize" && (30443..55912).contains(&tokens) {
        return guarded(s, "premium", Some("r25"));
    }
    if s.dependent_tool_calls > 1 && s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "standard", Some("r26"));
    }
    if (role == "plan" || role == "tool_call")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r27"));
    }
    if (role == "reason" || role == "format") && (43978..100453).contains(&tokens) {
        return guarded(s, "standard", Some("r28"));
    }
    if (role == "summarize" || role == "classify")
        && (48952..68258).contains(&tokens)
        && s.dependent_tool_calls > 7
        && !s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r29"));
    }
    if (role == "tool_call" || role == "plan") && (12115..38314).contains(&tokens) {
        return guarded(s, "standard", Some("r30"));
    }
    if (40702..92049).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r31"));
    }
    if (58441..73183).contains(&tokens) && s.dependent_tool_calls > 8 && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r32"));
    }
    if (22297..63232).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r33"));
    }
    if (role == "classify" || role == "format")
        && (54963..99693).contains(&tokens)
        && s.dependent_tool_calls > 1
    {
        return guarded(s, "premium", Some("r34"));
    }
    if (206..49267).contains(&tokens)
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r35"));
    }
    if (role == "classify" || role == "reason") && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r36"));
    }
    if (role == "summarize" || role == "tool_call") && (24210..72458).contains(&tokens) {
        return guarded(s, "standard", Some("r37"));
    }
    if (42536..84496).contains(&tokens) && s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "cheap", Some("r38"));
    }
    if (role == "format" || role == "classify") && s.dependent_tool_calls > 3 {
        return guarded(s, "standard", Some("r39"));
    }
    if (role == "format" || role == "extract")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r40"));
    }
    if (49382..75993).contains(&tokens) && s.dependent_tool_calls > 1 {
        return guarded(s, "cheap", Some("r41"));
    }
    if (role == "extract" || role == "classify") && s.dependent_tool_calls > 6 {
        return guarded(s, "premium", Some("r42"));
    }
    if (role == "summarize" || role == "plan") && (21009..73545).contains(&tokens) {
        return guarded(s, "cheap", Some("r43"));
    }
    if (role == "reason" || role == "tool_call") && s.dependent_tool_calls > 9 {
        return guarded(s, "cheap", Some("r44"));
    }
    if (15947..20402).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r45"));
    }
    if (1896..57790).contains(&tokens)
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r46"));
    }
    if (role == "format" || role == "reason")
        && (2318..7213).contains(&tokens)
        && s.dependent_tool_calls > 0
    {
        return guarded(s, "premium", Some("r47"));
    }
    if (role == "tool_call" || role == "format") && (26747..32285).contains(&tokens) {
        return guarded(s, "standard", Some("r48"));
    }
    if (role == "format" || role == "classify")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r49"));
    }
    if (role == "tool_call" || role == "extract")
        && (42690..49579).contains(&tokens)
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r50"));
    }
    if (role == "format" || role == "tool_call")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "cheap", Some("r51"));
    }
    if (6435..48213).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "cheap", Some("r52"));
    }
    if (role == "format" || role == "classify")
        && !s.needs_chain_of_thought
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r53"));
    }
    if (role == "summarize" || role == "format") && s.output_must_be_json {
        return guarded(s, "standard", Some("r54"));
    }
    if (25814..44348).contains(&tokens)
        && s.needs_chain_of_thought
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r55"));
    }
    if (32717..38717).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "premium", Some("r56"));
    }
    if (role == "reason" || role == "classify")
        && (1849..27177).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "cheap", Some("r57"));
    }
    if (role == "format" || role == "classify")
        && (40315..99243).contains(&tokens)
        && s.dependent_tool_calls > 7
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r58"));
    }
    if (role == "format" || role == "plan")
        && (43688..46339).contains(&tokens)
        && !s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r59"));
    }
    if (role == "reason" || role == "tool_call") && s.dependent_tool_calls > 3 {
        return guarded(s, "standard", Some("r60"));
    }
    if (role == "extract" || role == "plan") && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r61"));
    }
    if (46338..51256).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r62"));
    }
    if (role == "classify" || role == "summarize")
        && (35095..38114).contains(&tokens)
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r63"));
    }
    if s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "cheap", Some("r64"));
    }
    if role == "reason" && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r65"));
    }
    if (role == "plan" || role == "classify") && s.output_must_be_json {
        return guarded(s, "standard", Some("r66"));
    }
    if (role == "format" || role == "tool_call")
        && (15324..42979).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r67"));
    }
    if (17664..34736).contains(&tokens)
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r68"));
    }
    if (36436..64426).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "cheap", Some("r69"));
    }
    if s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "premium", Some("r70"));
    }
    if (role == "summarize" || role == "extract")
        && (30695..33452).contains(&tokens)
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r71"));
    }
    if (27914..28677).contains(&tokens)
        && s.dependent_tool_calls > 4
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r72"));
    }
    if role == "reason"
        && (27996..76631).contains(&tokens)
        && s.needs_chain_of_thought
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r73"));
    }
    if role == "reason"
        && (46478..57277).contains(&tokens)
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r74"));
    }
    if (role == "reason" || role == "tool_call") && !s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r75"));
    }
    if role == "extract" && (35247..82366).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "cheap", Some("r76"));
    }
    if (role == "classify" || role == "format")
        && s.needs_chain_of_thought
        && !s.output_must_be_json
    {
        return guarded(s, "standard", Some("r77"));
    }
    if s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r78"));
    }
    if (role == "tool_call" || role == "plan") && (7773..39965).contains(&tokens) {
        return guarded(s, "cheap", Some("r79"));
    }
    if (role == "summarize" || role == "extract") && (28732..30691).contains(&tokens) {
        return guarded(s, "premium", Some("r80"));
    }
    if (role == "format" || role == "reason")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "cheap", Some("r81"));
    }
    if (role == "extract" || role == "plan") && (11275..16530).contains(&tokens) {
        return guarded(s, "premium", Some("r82"));
    }
    if role == "tool_call" && (17604..55431).contains(&tokens) && !s.output_must_be_json {
        return guarded(s, "standard", Some("r83"));
    }
    if (14846..49888).contains(&tokens) && s.dependent_tool_calls > 9 && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r84"));
    }
    if role == "tool_call"
        && s.dependent_tool_calls > 6
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r85"));
    }
    if (role == "plan" || role == "reason") && s.output_must_be_json {
        return guarded(s, "standard", Some("r86"));
    }
    if (role == "plan" || role == "reason") && !s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "cheap", Some("r87"));
    }
    if (role == "reason" || role == "plan")
        && s.dependent_tool_calls > 8
        && s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r88"));
    }
    if (role == "summarize" || role == "tool_call") && !s.output_must_be_json {
        return guarded(s, "standard", Some("r89"));
    }
    if (27223..70729).contains(&tokens) && s.dependent_tool_calls > 7 {
        return guarded(s, "premium", Some("r90"));
    }
    if (role == "extract" || role == "tool_call") && (31533..69128).contains(&tokens) {
        return guarded(s, "cheap", Some("r91"));
    }
    if role == "format" && (58210..117172).contains(&tokens) {
        return guarded(s, "premium", Some("r92"));
    }
    if role == "reason"
        && (37856..69340).contains(&tokens)
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r93"));
    }
    if (role == "classify" || role == "tool_call") && s.dependent_tool_calls > 6 {
        return guarded(s, "premium", Some("r94"));
    }
    if (role == "tool_call" || role == "summarize")
        && (17062..41974).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r95"));
    }
    if (43686..73315).contains(&tokens) && s.dependent_tool_calls > 6 {
        return guarded(s, "standard", Some("r96"));
    }
    if role == "extract"
        && s.dependent_tool_calls > 7
        && s.needs_chain_of_thought
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r97"));
    }
    if (role == "format" || role == "reason") && (46826..53330).contains(&tokens) {
        return guarded(s, "premium", Some("r98"));
    }
    if (role == "classify" || role == "plan") && (43728..80265).contains(&tokens) {
        return guarded(s, "premium", Some("r99"));
    }
    if (role == "tool_call" || role == "extract") && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r100"));
    }
    if (role == "tool_call" || role == "format")
        && (19972..68422).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r101"));
    }
    if (role == "format" || role == "reason")
        && (54463..55605).contains(&tokens)
        && !s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r102"));
    }
    if (role == "plan" || role == "extract") && (15550..64865).contains(&tokens) {
        return guarded(s, "standard", Some("r103"));
    }
    if (role == "plan" || role == "format")
        && s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r104"));
    }
    if (role == "reason" || role == "classify")
        && (12619..53999).contains(&tokens)
        && s.dependent_tool_calls > 3
    {
        return guarded(s, "standard", Some("r105"));
    }
    if (role == "tool_call" || role == "extract") && (58587..66912).contains(&tokens) {
        return guarded(s, "standard", Some("r106"));
    }
    if (role == "format" || role == "classify")
        && (25137..71030).contains(&tokens)
        && s.dependent_tool_calls > 6
    {
        return guarded(s, "standard", Some("r107"));
    }
    if (role == "tool_call" || role == "plan")
        && (28623..61200).contains(&tokens)
        && s.dependent_tool_calls > 8
    {
        return guarded(s, "standard", Some("r108"));
    }
    if (role == "extract" || role == "tool_call") && s.dependent_tool_calls > 5 {
        return guarded(s, "premium", Some("r109"));
    }
    if (role == "tool_call" || role == "classify")
        && (9584..38455).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "cheap", Some("r110"));
    }
    if (role == "tool_call" || role == "summarize")
        && (6488..57295).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r111"));
    }
    if (role == "reason" || role == "summarize")
        && (6395..18449).contains(&tokens)
        && s.dependent_tool_calls > 9
        && !s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r112"));
    }
    if (27315..72996).contains(&tokens)
        && s.dependent_tool_calls > 6
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r113"));
    }
    if (role == "classify" || role == "reason") && (28293..55345).contains(&tokens) {
        return guarded(s, "standard", Some("r114"));
    }
    if (role == "plan" || role == "extract") && (42501..52300).contains(&tokens) {
        return guarded(s, "standard", Some("r115"));
    }
    if !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r116"));
    }
    if role == "format"
        && (52420..56325).contains(&tokens)
        && s.dependent_tool_calls > 7
        && !s.needs_chain_of_thought
        && !s.output_must_be_json
    {
        return guarded(s, "standard", Some("r117"));
    }
    if (role == "plan" || role == "extract") && (19191..63100).contains(&tokens) {
        return guarded(s, "standard", Some("r118"));
    }
    if (role == "tool_call" || role == "plan") && s.dependent_tool_calls > 8 {
        return guarded(s, "standard", Some("r119"));
    }
    if (role == "extract" || role == "classify") && !s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r120"));
    }
    if (role == "tool_call" || role == "extract")
        && (5715..34513).contains(&tokens)
        && s.dependent_tool_calls > 4
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r121"));
    }
    if (role == "tool_call" || role == "plan")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r122"));
    }
    if (role == "summarize" || role == "format") && s.dependent_tool_calls > 8 {
        return guarded(s, "cheap", Some("r123"));
    }
    if role == "extract" && s.output_must_be_json {
        return guarded(s, "cheap", Some("r124"));
    }
    if !s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "premium", Some("r125"));
    }
    if role == "plan" && !s.output_must_be_json {
        return guarded(s, "standard", Some("r126"));
    }
    if (role == "summarize" || role == "tool_call")
        && (50789..106033).contains(&tokens)
        && s.dependent_tool_calls > 0
    {
        return guarded(s, "premium", Some("r127"));
    }
    if (role == "summarize" || role == "classify") && (27520..58323).contains(&tokens) {
        return guarded(s, "cheap", Some("r128"));
    }
    if (role == "format" || role == "tool_call")
        && s.dependent_tool_calls > 9
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r129"));
    }
    if (role == "format" || role == "plan") && (22015..78308).contains(&tokens) {
        return guarded(s, "premium", Some("r130"));
    }
    if (18025..40184).contains(&tokens) && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r131"));
    }
    if (role == "format" || role == "classify")
        && (59406..110063).contains(&tokens)
        && s.dependent_tool_calls > 4
    {
        return guarded(s, "premium", Some("r132"));
    }
    if (role == "classify" || role == "reason")
        && s.dependent_tool_calls > 6
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r133"));
    }
    if (role == "format" || role == "tool_call")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r134"));
    }
    if (6850..13243).contains(&tokens) && s.dependent_tool_calls > 3 {
        return guarded(s, "premium", Some("r135"));
    }
    if (role == "summarize" || role == "classify") && (41014..64752).contains(&tokens) {
        return guarded(s, "premium", Some("r136"));
    }
    if (role == "extract" || role == "classify")
        && (29835..35615).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r137"));
    }
    if (53483..62273).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r138"));
    }
    if role == "tool_call"
        && (10213..65169).contains(&tokens)
        && s.dependent_tool_calls > 1
        && !s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r139"));
    }
    if (role == "extract" || role == "tool_call") && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r140"));
    }
    if role == "classify"
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r141"));
    }
    if (role == "format" || role == "extract") && (15883..71685).contains(&tokens) {
        return guarded(s, "premium", Some("r142"));
    }
    if role == "reason" && (492..23105).contains(&tokens) {
        return guarded(s, "premium", Some("r143"));
    }
    if role == "format" && (12917..22996).contains(&tokens) {
        return guarded(s, "premium", Some("r144"));
    }
    if (role == "plan" || role == "extract") && !s.output_must_be_json {
        return guarded(s, "standard", Some("r145"));
    }
    if (role == "tool_call" || role == "classify") && s.output_must_be_json {
        return guarded(s, "standard", Some("r146"));
    }
    if (role == "classify" || role == "plan")
        && (56548..82874).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r147"));
    }
    if (24124..80429).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r148"));
    }
    if (role == "classify" || role == "plan")
        && (2958..26719).contains(&tokens)
        && s.dependent_tool_calls > 2
        && s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r149"));
    }
    if (48740..86024).contains(&tokens)
        && s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r150"));
    }
    if (role == "reason" || role == "summarize")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r151"));
    }
    if (4112..47545).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r152"));
    }
    if (role == "plan" || role == "format")
        && (6302..29436).contains(&tokens)
        && s.needs_chain_of_thought
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r153"));
    }
    if role == "summarize"
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r154"));
    }
    if (3994..39161).contains(&tokens) && !s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r155"));
    }
    if (role == "format" || role == "summarize")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r156"));
    }
    if (role == "plan" || role == "classify")
        && (59954..98210).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r157"));
    }
    if (role == "format" || role == "tool_call") && (36402..78113).contains(&tokens) {
        return guarded(s, "standard", Some("r158"));
    }
    if (role == "reason" || role == "tool_call")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r159"));
    }
    if (3504..22304).contains(&tokens) && s.dependent_tool_calls > 5 {
        return guarded(s, "cheap", Some("r160"));
    }
    if s.dependent_tool_calls > 6 && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r161"));
    }
    if (16816..42132).contains(&tokens) && !s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r162"));
    }
    if (role == "tool_call" || role == "summarize")
        && (51075..73796).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r163"));
    }
    if s.dependent_tool_calls > 6 && !s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r164"));
    }
    if (role == "plan" || role == "reason") && s.dependent_tool_calls > 2 {
        return guarded(s, "cheap", Some("r165"));
    }
    if (role == "plan" || role == "format")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r166"));
    }
    if s.dependent_tool_calls > 8 && !s.output_must_be_json {
        return guarded(s, "premium", Some("r167"));
    }
    if (role == "classify" || role == "format")
        && s.dependent_tool_calls > 1
        && s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r168"));
    }
    if (role == "extract" || role == "format") && !s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r169"));
    }
    if (role == "summarize" || role == "tool_call")
        && (19793..66921).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r170"));
    }
    if (role == "format" || role == "extract")
        && (6119..23130).contains(&tokens)
        && s.dependent_tool_calls > 4
    {
        return guarded(s, "cheap", Some("r171"));
    }
    if (role == "extract" || role == "format") && s.needs_chain_of_thought && s.output_must_be_json
    {
        return guarded(s, "premium", Some("r172"));
    }
    if (role == "reason" || role == "summarize") && (27034..73369).contains(&tokens) {
        return guarded(s, "cheap", Some("r173"));
    }
    if (role == "format" || role == "extract") && (53122..83704).contains(&tokens) {
        return guarded(s, "standard", Some("r174"));
    }
    if (22861..63473).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "standard", Some("r175"));
    }
    if (5733..51145).contains(&tokens) && !s.output_must_be_json {
        return guarded(s, "premium", Some("r176"));
    }
    if (role == "summarize" || role == "classify")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r177"));
    }
    if (role == "plan" || role == "reason")
        && (15045..51110).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "standard", Some("r178"));
    }
    if (role == "classify" || role == "tool_call") && s.dependent_tool_calls > 2 {
        return guarded(s, "standard", Some("r179"));
    }
    if (role == "plan" || role == "reason") && s.dependent_tool_calls > 6 {
        return guarded(s, "premium", Some("r180"));
    }
    if (role == "extract" || role == "tool_call")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "cheap", Some("r181"));
    }
    if (role == "extract" || role == "summarize")
        && s.dependent_tool_calls > 5
        && s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r182"));
    }
    if (role == "format" || role == "extract")
        && (41250..85584).contains(&tokens)
        && s.dependent_tool_calls > 2
    {
        return guarded(s, "premium", Some("r183"));
    }
    if role == "summarize" && (28590..79302).contains(&tokens) {
        return guarded(s, "standard", Some("r184"));
    }
    if (role == "reason" || role == "summarize") && !s.output_must_be_json {
        return guarded(s, "standard", Some("r185"));
    }
    if (11669..63004).contains(&tokens)
        && s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r186"));
    }
    if (18765..33559).contains(&tokens) && s.dependent_tool_calls > 6 && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r187"));
    }
    if (role == "reason" || role == "extract")
        && (46617..52842).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r188"));
    }
    if (11670..17754).contains(&tokens) && s.dependent_tool_calls > 4 && s.output_must_be_json {
        return guarded(s, "cheap", Some("r189"));
    }
    if (role == "extract" || role == "reason")
        && (22511..74306).contains(&tokens)
        && s.dependent_tool_calls > 3
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r190"));
    }
    if role == "classify" && (56644..92724).contains(&tokens) && !s.output_must_be_json {
        return guarded(s, "standard", Some("r191"));
    }
    if (role == "classify" || role == "tool_call")
        && !s.needs_chain_of_thought
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r192"));
    }
    if (role == "extract" || role == "classify")
        && (16094..65751).contains(&tokens)
        && s.dependent_tool_calls > 9
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r193"));
    }
    if s.dependent_tool_calls > 0 && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r194"));
    }
    if !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r195"));
    }
    if (role == "tool_call" || role == "extract")
        && s.dependent_tool_calls > 2
        && s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r196"));
    }
    if (28374..75951).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r197"));
    }
    if (role == "summarize" || role == "classify") && (37942..58644).contains(&tokens) {
        return guarded(s, "cheap", Some("r198"));
    }
    if (role == "tool_call" || role == "summarize")
        && !s.needs_chain_of_thought
        && !s.output_must_be_json
    {
        return guarded(s, "standard", Some("r199"));
    }
    if (role == "classify" || role == "reason")
        && (16979..66577).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r200"));
    }
    if (3487..61941).contains(&tokens) && !s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r201"));
    }
    if s.dependent_tool_calls > 1 && !s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r202"));
    }
    if (role == "extract" || role == "format") && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r203"));
    }
    if (role == "reason" || role == "tool_call")
        && (15888..47512).contains(&tokens)
        && !s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r204"));
    }
    if (role == "summarize" || role == "classify")
        && (48737..108510).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r205"));
    }
    if (role == "summarize" || role == "reason") && s.dependent_tool_calls > 1 {
        return guarded(s, "cheap", Some("r206"));
    }
    if (role == "summarize" || role == "extract")
        && (4022..54188).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r207"));
    }
    if (role == "format" || role == "tool_call")
        && (1031..32780).contains(&tokens)
        && s.dependent_tool_calls > 6
        && s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r208"));
    }
    if (role == "extract" || role == "tool_call") && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r209"));
    }
    if (9786..68204).contains(&tokens)
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r210"));
    }
    if (53905..59480).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r211"));
    }
    if (role == "summarize" || role == "format")
        && (21421..53684).contains(&tokens)
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r212"));
    }
    if (role == "classify" || role == "plan")
        && (36142..40779).contains(&tokens)
        && s.dependent_tool_calls > 8
        && !s.needs_chain_of_thought
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r213"));
    }
    if (role == "summarize" || role == "format") && (7517..36565).contains(&tokens) {
        return guarded(s, "cheap", Some("r214"));
    }
    if (role == "format" || role == "summarize")
        && (40997..99779).contains(&tokens)
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r215"));
    }
    if (role == "summarize" || role == "extract") && (37681..58987).contains(&tokens) {
        return guarded(s, "premium", Some("r216"));
    }
    if s.dependent_tool_calls > 5 && s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r217"));
    }
    if (27444..77411).contains(&tokens) && s.dependent_tool_calls > 8 && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r218"));
    }
    if (role == "summarize" || role == "reason")
        && (14105..33655).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r219"));
    }
    if role == "extract" && (4023..17007).contains(&tokens) && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r220"));
    }
    if role == "reason"
        && (35426..52754).contains(&tokens)
        && s.dependent_tool_calls > 0
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r221"));
    }
    if (role == "format" || role == "tool_call") && (17836..35181).contains(&tokens) {
        return guarded(s, "premium", Some("r222"));
    }
    if role == "extract" && (18910..31443).contains(&tokens) && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r223"));
    }
    if s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "premium", Some("r224"));
    }
    if (role == "summarize" || role == "reason") && (5393..10457).contains(&tokens) {
        return guarded(s, "premium", Some("r225"));
    }
    if (31304..87704).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r226"));
    }
    if role == "summarize" && s.output_must_be_json {
        return guarded(s, "standard", Some("r227"));
    }
    if (role == "summarize" || role == "reason")
        && s.dependent_tool_calls > 9
        && !s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r228"));
    }
    if role == "extract" && (28047..49194).contains(&tokens) {
        return guarded(s, "cheap", Some("r229"));
    }
    if (role == "summarize" || role == "format") && (16625..23150).contains(&tokens) {
        return guarded(s, "standard", Some("r230"));
    }
    if role == "format" && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r231"));
    }
    if (role == "format" || role == "plan") && (18199..51124).contains(&tokens) {
        return guarded(s, "cheap", Some("r232"));
    }
    if (role == "extract" || role == "classify")
        && (18232..47808).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "standard", Some("r233"));
    }
    if (role == "reason" || role == "plan")
        && s.dependent_tool_calls > 6
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r234"));
    }
    if (role == "reason" || role == "summarize")
        && (37599..69701).contains(&tokens)
        && s.dependent_tool_calls > 3
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r235"));
    }
    if role == "plan" && (20710..69209).contains(&tokens) && s.dependent_tool_calls > 6 {
        return guarded(s, "standard", Some("r236"));
    }
    if role == "extract" && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r237"));
    }
    if (role == "summarize" || role == "plan")
        && (39570..92523).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r238"));
    }
    if (role == "extract" || role == "format") && (56826..74914).contains(&tokens) {
        return guarded(s, "cheap", Some("r239"));
    }
    if (role == "extract" || role == "summarize") && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r240"));
    }
    if role == "reason" && (41983..67008).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r241"));
    }
    if (role == "classify" || role == "extract")
        && (22290..23227).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r242"));
    }
    if role == "tool_call" && s.dependent_tool_calls > 3 && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r243"));
    }
    if (role == "tool_call" || role == "summarize") && (13913..62879).contains(&tokens) {
        return guarded(s, "cheap", Some("r244"));
    }
    if (role == "tool_call" || role == "summarize")
        && (56811..91722).contains(&tokens)
        && s.needs_chain_of_thought
        && s.output_must_be_json
    {
        return guarded(s, "premium", Some("r245"));
    }
    if (role == "reason" || role == "extract") && s.dependent_tool_calls > 9 {
        return guarded(s, "premium", Some("r246"));
    }
    if (role == "format" || role == "plan") && s.dependent_tool_calls > 5 {
        return guarded(s, "standard", Some("r247"));
    }
    if (role == "tool_call" || role == "extract")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r248"));
    }
    if (55612..84333).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "cheap", Some("r249"));
    }
    if (role == "plan" || role == "reason") && (31862..36356).contains(&tokens) {
        return guarded(s, "cheap", Some("r250"));
    }
    if s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r251"));
    }
    if (role == "extract" || role == "format")
        && (8718..48920).contains(&tokens)
        && s.dependent_tool_calls > 7
        && !s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r252"));
    }
    if (18602..63135).contains(&tokens) && !s.output_must_be_json {
        return guarded(s, "premium", Some("r253"));
    }
    if (54597..93816).contains(&tokens) && s.dependent_tool_calls > 2 {
        return guarded(s, "premium", Some("r254"));
    }
    if (role == "summarize" || role == "extract") && (55389..57600).contains(&tokens) {
        return guarded(s, "standard", Some("r255"));
    }
    if (21559..43974).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r256"));
    }
    if (49614..105460).contains(&tokens) && s.dependent_tool_calls > 1 {
        return guarded(s, "cheap", Some("r257"));
    }
    if role == "summarize" && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r258"));
    }
    if (role == "plan" || role == "format") && (28195..84895).contains(&tokens) {
        return guarded(s, "standard", Some("r259"));
    }
    if (role == "format" || role == "plan") && (31126..64533).contains(&tokens) {
        return guarded(s, "cheap", Some("r260"));
    }
    if (role == "tool_call" || role == "classify")
        && (57023..64838).contains(&tokens)
        && s.dependent_tool_calls > 9
    {
        return guarded(s, "cheap", Some("r261"));
    }
    if (role == "tool_call" || role == "reason")
        && (39018..77723).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "cheap", Some("r262"));
    }
    if (role == "plan" || role == "classify")
        && (46624..65186).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r263"));
    }
    if role == "classify" && (27022..67110).contains(&tokens) && !s.output_must_be_json {
        return guarded(s, "standard", Some("r264"));
    }
    if role == "format" && s.dependent_tool_calls > 3 {
        return guarded(s, "cheap", Some("r265"));
    }
    if (role == "extract" || role == "tool_call")
        && (47205..82131).contains(&tokens)
        && s.dependent_tool_calls > 5
    {
        return guarded(s, "cheap", Some("r266"));
    }
    if (role == "reason" || role == "plan")
        && (37915..73107).contains(&tokens)
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r267"));
    }
    if (role == "format" || role == "summarize") && (57251..94453).contains(&tokens) {
        return guarded(s, "standard", Some("r268"));
    }
    if (role == "tool_call" || role == "format")
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r269"));
    }
    if (role == "plan" || role == "extract")
        && (48891..54841).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r270"));
    }
    if (role == "tool_call" || role == "summarize")
        && (34451..81774).contains(&tokens)
        && s.dependent_tool_calls > 0
        && s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r271"));
    }
    if (role == "format" || role == "extract")
        && (58715..78232).contains(&tokens)
        && s.dependent_tool_calls > 3
    {
        return guarded(s, "cheap", Some("r272"));
    }
    if (role == "plan" || role == "extract")
        && (58462..117607).contains(&tokens)
        && !s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r273"));
    }
    if (40018..96100).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r274"));
    }
    if (role == "summarize" || role == "reason")
        && s.dependent_tool_calls > 1
        && s.output_must_be_json
    {
        return guarded(s, "premium", Some("r275"));
    }
    if (role == "reason" || role == "summarize") && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r276"));
    }
    if (41422..43764).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r277"));
    }
    if (role == "summarize" || role == "reason")
        && (4356..9505).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r278"));
    }
    if (role == "extract" || role == "summarize") && !s.output_must_be_json {
        return guarded(s, "premium", Some("r279"));
    }
    if (role == "tool_call" || role == "plan")
        && (59827..103456).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r280"));
    }
    if (role == "summarize" || role == "plan") && (40460..64127).contains(&tokens) {
        return guarded(s, "cheap", Some("r281"));
    }
    if role == "reason" && !s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "cheap", Some("r282"));
    }
    if (role == "classify" || role == "plan") && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r283"));
    }
    if s.dependent_tool_calls > 3 && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r284"));
    }
    if role == "extract" && (7002..31212).contains(&tokens) && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r285"));
    }
    if (role == "extract" || role == "plan")
        && (31518..82691).contains(&tokens)
        && s.dependent_tool_calls > 4
        && s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r286"));
    }
    if (29108..54770).contains(&tokens) && s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "standard", Some("r287"));
    }
    if (32034..36933).contains(&tokens)
        && !s.needs_chain_of_thought
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r288"));
    }
    if (role == "tool_call" || role == "format") && (44488..99503).contains(&tokens) {
        return guarded(s, "standard", Some("r289"));
    }
    if (role == "tool_call" || role == "plan")
        && s.dependent_tool_calls > 3
        && s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r290"));
    }
    if (42055..67161).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r291"));
    }
    if (16811..23891).contains(&tokens) && s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r292"));
    }
    if (role == "extract" || role == "classify")
        && (20116..70506).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r293"));
    }
    if (role == "classify" || role == "summarize")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r294"));
    }
    if (role == "classify" || role == "tool_call")
        && s.dependent_tool_calls > 7
        && s.needs_chain_of_thought
        && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r295"));
    }
    if (role == "tool_call" || role == "format") && (9640..21449).contains(&tokens) {
        return guarded(s, "standard", Some("r296"));
    }
    if role == "extract"
        && (4324..17482).contains(&tokens)
        && s.dependent_tool_calls > 4
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r297"));
    }
    if (role == "tool_call" || role == "plan") && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r298"));
    }
    if (role == "plan" || role == "format")
        && (59164..64351).contains(&tokens)
        && s.dependent_tool_calls > 1
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r299"));
    }
    if (role == "format" || role == "reason")
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "cheap", Some("r300"));
    }
    if (role == "summarize" || role == "classify") && (16572..21365).contains(&tokens) {
        return guarded(s, "cheap", Some("r301"));
    }
    if (role == "summarize" || role == "tool_call")
        && (2864..61347).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r302"));
    }
    if (role == "extract" || role == "reason")
        && s.dependent_tool_calls > 3
        && !s.output_must_be_json
    {
        return guarded(s, "standard", Some("r303"));
    }
    if (role == "plan" || role == "reason") && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r304"));
    }
    if role == "tool_call" && (10304..11607).contains(&tokens) && s.dependent_tool_calls > 1 {
        return guarded(s, "premium", Some("r305"));
    }
    if (role == "reason" || role == "extract") && (23381..44148).contains(&tokens) {
        return guarded(s, "premium", Some("r306"));
    }
    if (11854..32474).contains(&tokens)
        && s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r307"));
    }
    if role == "classify" && (2502..50043).contains(&tokens) {
        return guarded(s, "cheap", Some("r308"));
    }
    if role == "reason"
        && (40797..89594).contains(&tokens)
        && s.dependent_tool_calls > 0
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r309"));
    }
    if (role == "reason" || role == "format") && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r310"));
    }
    if (role == "format" || role == "plan") && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r311"));
    }
    if (role == "plan" || role == "reason")
        && s.dependent_tool_calls > 5
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r312"));
    }
    if !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r313"));
    }
    if (31895..65958).contains(&tokens) && s.dependent_tool_calls > 0 && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r314"));
    }
    if (role == "reason" || role == "classify") && (16630..23156).contains(&tokens) {
        return guarded(s, "cheap", Some("r315"));
    }
    if role == "summarize" && !s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r316"));
    }
    if (role == "classify" || role == "tool_call")
        && (4949..7026).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "cheap", Some("r317"));
    }
    if (role == "summarize" || role == "plan")
        && (29274..35491).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r318"));
    }
    if (role == "extract" || role == "tool_call")
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r319"));
    }
    if (role == "summarize" || role == "reason") && (8199..28426).contains(&tokens) {
        return guarded(s, "cheap", Some("r320"));
    }
    if (role == "classify" || role == "extract")
        && s.dependent_tool_calls > 0
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r321"));
    }
    if (role == "classify" || role == "extract")
        && (25331..65593).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r322"));
    }
    if (role == "format" || role == "tool_call")
        && (21884..75802).contains(&tokens)
        && s.dependent_tool_calls > 9
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r323"));
    }
    if role == "extract"
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r324"));
    }
    if (34353..46103).contains(&tokens)
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r325"));
    }
    if (55249..91129).contains(&tokens)
        && s.dependent_tool_calls > 8
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r326"));
    }
    if (role == "tool_call" || role == "reason")
        && (14486..54798).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "cheap", Some("r327"));
    }
    if (role == "summarize" || role == "classify")
        && (49596..68406).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r328"));
    }
    if (role == "classify" || role == "extract")
        && (57688..63156).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r329"));
    }
    if (role == "extract" || role == "plan") && (36843..83870).contains(&tokens) {
        return guarded(s, "standard", Some("r330"));
    }
    if (role == "reason" || role == "plan") && s.dependent_tool_calls > 3 {
        return guarded(s, "standard", Some("r331"));
    }
    if (role == "classify" || role == "tool_call") && (47106..70496).contains(&tokens) {
        return guarded(s, "premium", Some("r332"));
    }
    if (47310..75724).contains(&tokens) && s.dependent_tool_calls > 9 {
        return guarded(s, "premium", Some("r333"));
    }
    if (role == "classify" || role == "reason") && (38386..45110).contains(&tokens) {
        return guarded(s, "premium", Some("r334"));
    }
    if (role == "tool_call" || role == "plan")
        && (30117..30357).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r335"));
    }
    if (role == "summarize" || role == "extract") && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r336"));
    }
    if (50229..83615).contains(&tokens)
        && s.dependent_tool_calls > 7
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r337"));
    }
    if (role == "extract" || role == "classify") && !s.output_must_be_json {
        return guarded(s, "premium", Some("r338"));
    }
    if (54356..95449).contains(&tokens) && s.dependent_tool_calls > 2 && !s.output_must_be_json {
        return guarded(s, "standard", Some("r339"));
    }
    if (15130..58234).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "standard", Some("r340"));
    }
    if (role == "reason" || role == "tool_call") && (40390..69824).contains(&tokens) {
        return guarded(s, "premium", Some("r341"));
    }
    if (11094..70833).contains(&tokens) && s.dependent_tool_calls > 1 && s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r342"));
    }
    if (role == "classify" || role == "summarize")
        && (43272..88674).contains(&tokens)
        && s.dependent_tool_calls > 7
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r343"));
    }
    if (role == "classify" || role == "reason") && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r344"));
    }
    if (57109..113737).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "premium", Some("r345"));
    }
    if (role == "plan" || role == "classify") && s.dependent_tool_calls > 5 {
        return guarded(s, "standard", Some("r346"));
    }
    if (role == "extract" || role == "reason")
        && (24103..42478).contains(&tokens)
        && s.dependent_tool_calls > 5
        && !s.needs_chain_of_thought
        && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r347"));
    }
    if (48257..100566).contains(&tokens) && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r348"));
    }
    if (role == "format" || role == "tool_call")
        && (17164..25273).contains(&tokens)
        && !s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r349"));
    }
    if (22..51357).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "premium", Some("r350"));
    }
    if (role == "classify" || role == "plan")
        && (24874..84856).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r351"));
    }
    if role == "tool_call"
        && (55819..96409).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r352"));
    }
    if (role == "summarize" || role == "classify")
        && s.dependent_tool_calls > 5
        && !s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r353"));
    }
    if s.dependent_tool_calls > 0
        && s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r354"));
    }
    if (role == "classify" || role == "tool_call") && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r355"));
    }
    if (57411..83576).contains(&tokens)
        && s.dependent_tool_calls > 1
        && !s.needs_chain_of_thought
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r356"));
    }
    if (role == "summarize" || role == "format")
        && s.dependent_tool_calls > 5
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r357"));
    }
    if (44828..62505).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "cheap", Some("r358"));
    }
    if (role == "reason" || role == "tool_call")
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "cheap", Some("r359"));
    }
    if !s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "premium", Some("r360"));
    }
    if (role == "reason" || role == "summarize")
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r361"));
    }
    if (role == "classify" || role == "tool_call") && (17386..73764).contains(&tokens) {
        return guarded(s, "standard", Some("r362"));
    }
    if (role == "plan" || role == "tool_call")
        && (6789..57618).contains(&tokens)
        && s.dependent_tool_calls > 3
    {
        return guarded(s, "standard", Some("r363"));
    }
    if role == "classify" && (9502..42571).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "cheap", Some("r364"));
    }
    if (role == "tool_call" || role == "plan") && s.dependent_tool_calls > 0 {
        return guarded(s, "standard", Some("r365"));
    }
    if (role == "format" || role == "summarize") && (43385..79830).contains(&tokens) {
        return guarded(s, "standard", Some("r366"));
    }
    if (role == "extract" || role == "summarize") && s.dependent_tool_calls > 0 {
        return guarded(s, "standard", Some("r367"));
    }
    if (45175..73994).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r368"));
    }
    if (role == "classify" || role == "extract") && !s.output_must_be_json {
        return guarded(s, "premium", Some("r369"));
    }
    if (role == "format" || role == "summarize") && s.output_must_be_json {
        return guarded(s, "premium", Some("r370"));
    }
    if (25902..68691).contains(&tokens) && s.dependent_tool_calls > 8 {
        return guarded(s, "standard", Some("r371"));
    }
    if s.dependent_tool_calls > 7 && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r372"));
    }
    if (15566..65401).contains(&tokens) && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r373"));
    }
    if (role == "classify" || role == "format")
        && (24556..73073).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r374"));
    }
    if role == "reason" && s.dependent_tool_calls > 3 {
        return guarded(s, "standard", Some("r375"));
    }
    if (role == "reason" || role == "format") && s.output_must_be_json {
        return guarded(s, "cheap", Some("r376"));
    }
    if (role == "summarize" || role == "tool_call") && s.dependent_tool_calls > 1 {
        return guarded(s, "premium", Some("r377"));
    }
    if !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r378"));
    }
    if role == "plan" && (25367..38017).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r379"));
    }
    if (role == "format" || role == "reason")
        && (53823..54738).contains(&tokens)
        && s.dependent_tool_calls > 9
        && !s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r380"));
    }
    if (role == "classify" || role == "reason") && (47025..100367).contains(&tokens) {
        return guarded(s, "standard", Some("r381"));
    }
    if (role == "reason" || role == "format") && !s.output_must_be_json {
        return guarded(s, "standard", Some("r382"));
    }
    if (role == "extract" || role == "tool_call")
        && (53108..72519).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r383"));
    }
    if (role == "classify" || role == "summarize")
        && (34649..79770).contains(&tokens)
        && s.dependent_tool_calls > 2
    {
        return guarded(s, "premium", Some("r384"));
    }
    if (role == "format" || role == "plan")
        && (49300..59613).contains(&tokens)
        && s.dependent_tool_calls > 2
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r385"));
    }
    if (role == "format" || role == "plan")
        && (38639..49835).contains(&tokens)
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r386"));
    }
    if (7302..21936).contains(&tokens)
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "premium", Some("r387"));
    }
    if (role == "classify" || role == "reason") && (46160..67221).contains(&tokens) {
        return guarded(s, "cheap", Some("r388"));
    }
    if (role == "classify" || role == "extract") && (38968..69843).contains(&tokens) {
        return guarded(s, "cheap", Some("r389"));
    }
    if (role == "summarize" || role == "plan") && s.dependent_tool_calls > 4 {
        return guarded(s, "standard", Some("r390"));
    }
    if (role == "summarize" || role == "tool_call") && (3719..39967).contains(&tokens) {
        return guarded(s, "standard", Some("r391"));
    }
    if s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r392"));
    }
    if (49285..74385).contains(&tokens) && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r393"));
    }
    if (role == "format" || role == "summarize")
        && (28981..49493).contains(&tokens)
        && !s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r394"));
    }
    if (role == "tool_call" || role == "plan") && (45729..52701).contains(&tokens) {
        return guarded(s, "premium", Some("r395"));
    }
    if s.dependent_tool_calls > 6 && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r396"));
    }
    if (role == "format" || role == "plan")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r397"));
    }
    if (32433..52040).contains(&tokens) && s.dependent_tool_calls > 6 && !s.output_must_be_json {
        return guarded(s, "standard", Some("r398"));
    }
    if (11590..28057).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r399"));
    }
    if (role == "format" || role == "tool_call")
        && (3848..61482).contains(&tokens)
        && s.dependent_tool_calls > 7
    {
        return guarded(s, "premium", Some("r400"));
    }
    if (role == "summarize" || role == "format") && s.dependent_tool_calls > 1 {
        return guarded(s, "premium", Some("r401"));
    }
    if (role == "reason" || role == "format")
        && (56281..66676).contains(&tokens)
        && !s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r402"));
    }
    if (role == "tool_call" || role == "plan") && s.needs_chain_of_thought && !s.output_must_be_json
    {
        return guarded(s, "premium", Some("r403"));
    }
    if (role == "tool_call" || role == "extract")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r404"));
    }
    if (11256..54464).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "premium", Some("r405"));
    }
    if (role == "tool_call" || role == "extract")
        && (19668..41418).contains(&tokens)
        && s.dependent_tool_calls > 1
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r406"));
    }
    if (role == "reason" || role == "extract") && (34368..36029).contains(&tokens) {
        return guarded(s, "cheap", Some("r407"));
    }
    if (role == "extract" || role == "tool_call")
        && (43206..69543).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r408"));
    }
    if (role == "extract" || role == "reason") && s.output_must_be_json {
        return guarded(s, "premium", Some("r409"));
    }
    if s.dependent_tool_calls > 6 && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r410"));
    }
    if (role == "reason" || role == "extract") && (44015..94964).contains(&tokens) {
        return guarded(s, "cheap", Some("r411"));
    }
    if (role == "summarize" || role == "format") && (32917..62682).contains(&tokens) {
        return guarded(s, "cheap", Some("r412"));
    }
    if s.needs_chain_of_thought
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r413"));
    }
    if (role == "classify" || role == "summarize")
        && s.dependent_tool_calls > 9
        && s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r414"));
    }
    if (role == "plan" || role == "extract") && (34306..48629).contains(&tokens) {
        return guarded(s, "cheap", Some("r415"));
    }
    if (3676..6588).contains(&tokens)
        && s.dependent_tool_calls > 4
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r416"));
    }
    if (role == "summarize" || role == "classify")
        && (35985..36455).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r417"));
    }
    if (role == "format" || role == "tool_call")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r418"));
    }
    if (role == "summarize" || role == "classify") && !s.output_must_be_json {
        return guarded(s, "standard", Some("r419"));
    }
    if (role == "plan" || role == "summarize")
        && (44672..68316).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r420"));
    }
    if role == "reason"
        && (51358..77688).contains(&tokens)
        && !s.needs_chain_of_thought
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r421"));
    }
    if (role == "summarize" || role == "tool_call") && s.output_must_be_json {
        return guarded(s, "premium", Some("r422"));
    }
    if (36866..53285).contains(&tokens) && s.dependent_tool_calls > 4 {
        return guarded(s, "cheap", Some("r423"));
    }
    if (role == "extract" || role == "reason")
        && (43416..83932).contains(&tokens)
        && s.dependent_tool_calls > 9
    {
        return guarded(s, "cheap", Some("r424"));
    }
    if s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r425"));
    }
    if (role == "plan" || role == "classify") && (5911..41124).contains(&tokens) {
        return guarded(s, "premium", Some("r426"));
    }
    if (role == "tool_call" || role == "plan")
        && (7736..32151).contains(&tokens)
        && !s.needs_chain_of_thought
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r427"));
    }
    if role == "plan" && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r428"));
    }
    if (role == "plan" || role == "reason")
        && (6648..58584).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r429"));
    }
    if (role == "format" || role == "plan")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r430"));
    }
    if (14621..34462).contains(&tokens) && !s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "cheap", Some("r431"));
    }
    if (role == "extract" || role == "classify") && (58173..117488).contains(&tokens) {
        return guarded(s, "cheap", Some("r432"));
    }
    if role == "summarize" && (15970..45435).contains(&tokens) && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r433"));
    }
    if (role == "reason" || role == "extract")
        && (15750..40154).contains(&tokens)
        && s.dependent_tool_calls > 5
    {
        return guarded(s, "standard", Some("r434"));
    }
    if (role == "reason" || role == "format")
        && (29445..53920).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r435"));
    }
    if (role == "tool_call" || role == "plan") && s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r436"));
    }
    if (role == "summarize" || role == "plan") && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r437"));
    }
    if !s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "cheap", Some("r438"));
    }
    if (17024..19406).contains(&tokens) && s.output_must_be_json {
        return guarded(s, "cheap", Some("r439"));
    }
    if (role == "tool_call" || role == "plan")
        && (44566..94203).contains(&tokens)
        && s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r440"));
    }
    if (role == "classify" || role == "reason")
        && (35836..36507).contains(&tokens)
        && !s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r441"));
    }
    if (role == "tool_call" || role == "reason") && (47..55558).contains(&tokens) {
        return guarded(s, "standard", Some("r442"));
    }
    if (role == "reason" || role == "classify")
        && s.dependent_tool_calls > 1
        && s.output_must_be_json
    {
        return guarded(s, "premium", Some("r443"));
    }
    if (role == "format" || role == "summarize") && s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r444"));
    }
    if role == "format" && s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "standard", Some("r445"));
    }
    if (role == "classify" || role == "summarize")
        && (55039..64328).contains(&tokens)
        && !s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r446"));
    }
    if (role == "reason" || role == "format") && s.dependent_tool_calls > 9 {
        return guarded(s, "standard", Some("r447"));
    }
    if (role == "summarize" || role == "tool_call")
        && (48280..48839).contains(&tokens)
        && s.dependent_tool_calls > 7
    {
        return guarded(s, "standard", Some("r448"));
    }
    if !s.needs_chain_of_thought
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r449"));
    }
    if !s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "premium", Some("r450"));
    }
    if (role == "classify" || role == "reason") && s.dependent_tool_calls > 9 {
        return guarded(s, "cheap", Some("r451"));
    }
    if (role == "classify" || role == "extract")
        && (15988..52889).contains(&tokens)
        && s.dependent_tool_calls > 4
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r452"));
    }
    if (role == "classify" || role == "tool_call")
        && (42266..83727).contains(&tokens)
        && !s.needs_chain_of_thought
        && !s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r453"));
    }
    if (role == "plan" || role == "extract") && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r454"));
    }
    if (role == "format" || role == "reason") && (36224..94729).contains(&tokens) {
        return guarded(s, "cheap", Some("r455"));
    }
    if (59796..90268).contains(&tokens) && !s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "standard", Some("r456"));
    }
    if s.dependent_tool_calls > 4 && !s.output_must_be_json {
        return guarded(s, "premium", Some("r457"));
    }
    if (role == "extract" || role == "plan")
        && s.dependent_tool_calls > 8
        && !s.needs_chain_of_thought
    {
        return guarded(s, "standard", Some("r458"));
    }
    if (role == "format" || role == "extract")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "premium", Some("r459"));
    }
    if (role == "plan" || role == "extract")
        && (23823..80212).contains(&tokens)
        && s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r460"));
    }
    if role == "extract" && !s.needs_chain_of_thought && s.output_must_be_json {
        return guarded(s, "premium", Some("r461"));
    }
    if (50103..109516).contains(&tokens) && s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "cheap", Some("r462"));
    }
    if (role == "plan" || role == "format")
        && (25241..65977).contains(&tokens)
        && !s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r463"));
    }
    if (14526..24708).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "cheap", Some("r464"));
    }
    if (44345..98791).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r465"));
    }
    if (role == "format" || role == "extract") && (58708..85838).contains(&tokens) {
        return guarded(s, "premium", Some("r466"));
    }
    if (33218..76169).contains(&tokens) && s.dependent_tool_calls > 2 && !s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r467"));
    }
    if (role == "summarize" || role == "classify")
        && (16983..75762).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "cheap", Some("r468"));
    }
    if (role == "extract" || role == "tool_call")
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "standard", Some("r469"));
    }
    if role == "summarize"
        && (44697..47203).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "UK")
    {
        return guarded(s, "standard", Some("r470"));
    }
    if (57724..94082).contains(&tokens) && s.dependent_tool_calls > 6 {
        return guarded(s, "premium", Some("r471"));
    }
    if (role == "classify" || role == "format") && s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r472"));
    }
    if (role == "classify" || role == "format")
        && s.dependent_tool_calls > 3
        && !s.needs_chain_of_thought
    {
        return guarded(s, "premium", Some("r473"));
    }
    if (59186..95906).contains(&tokens) && s.dependent_tool_calls > 3 {
        return guarded(s, "premium", Some("r474"));
    }
    if (21048..50079).contains(&tokens)
        && s.dependent_tool_calls > 9
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "standard", Some("r475"));
    }
    if (role == "classify" || role == "summarize")
        && s.dependent_tool_calls > 1
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "cheap", Some("r476"));
    }
    if (role == "extract" || role == "format")
        && (1891..26564).contains(&tokens)
        && s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r477"));
    }
    if (role == "plan" || role == "tool_call") && !s.needs_chain_of_thought {
        return guarded(s, "cheap", Some("r478"));
    }
    if role == "classify" && (53457..85648).contains(&tokens) && s.dependent_tool_calls > 9 {
        return guarded(s, "cheap", Some("r479"));
    }
    if (role == "classify" || role == "plan")
        && (27888..28799).contains(&tokens)
        && s.dependent_tool_calls > 3
        && s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "US")
    {
        return guarded(s, "cheap", Some("r480"));
    }
    if (39989..84860).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r481"));
    }
    if (role == "plan" || role == "classify")
        && !s.output_must_be_json
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "cheap", Some("r482"));
    }
    if (9432..22867).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "cheap", Some("r483"));
    }
    if role == "format" && (51168..109480).contains(&tokens) {
        return guarded(s, "standard", Some("r484"));
    }
    if (495..30073).contains(&tokens) && s.needs_chain_of_thought {
        return guarded(s, "standard", Some("r485"));
    }
    if (role == "format" || role == "extract")
        && (18219..22476).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "premium", Some("r486"));
    }
    if (role == "reason" || role == "tool_call")
        && (51185..56981).contains(&tokens)
        && s.dependent_tool_calls > 7
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r487"));
    }
    if (role == "plan" || role == "format") && s.dependent_tool_calls > 6 {
        return guarded(s, "standard", Some("r488"));
    }
    if (role == "plan" || role == "extract") && (13597..34382).contains(&tokens) {
        return guarded(s, "cheap", Some("r489"));
    }
    if role == "format"
        && !s.needs_chain_of_thought
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "cheap", Some("r490"));
    }
    if (58571..65091).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "premium", Some("r491"));
    }
    if (role == "plan" || role == "format")
        && (20509..79781).contains(&tokens)
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "CA")
    {
        return guarded(s, "standard", Some("r492"));
    }
    if (role == "tool_call" || role == "extract")
        && (15876..72532).contains(&tokens)
        && s.dependent_tool_calls > 6
        && matches!(s.tags.get("jurisdiction"), Some(TagValue::Str(j)) if j == "EU")
    {
        return guarded(s, "premium", Some("r493"));
    }
    if (role == "tool_call" || role == "reason")
        && (59046..77528).contains(&tokens)
        && s.output_must_be_json
    {
        return guarded(s, "standard", Some("r494"));
    }
    if (40960..61086).contains(&tokens) && !s.needs_chain_of_thought && !s.output_must_be_json {
        return guarded(s, "premium", Some("r495"));
    }
    if (role == "extract" || role == "classify") && (20711..24906).contains(&tokens) {
        return guarded(s, "premium", Some("r496"));
    }
    if (role == "extract" || role == "classify") && s.needs_chain_of_thought {
        return guarded(s, "premium", Some("r497"));
    }
    if (role == "tool_call" || role == "summarize") && (11887..54085).contains(&tokens) {
        return guarded(s, "cheap", Some("r498"));
    }
    if (role == "format" || role == "summarize")
        && (56891..93239).contains(&tokens)
        && s.dependent_tool_calls > 4
        && s.needs_chain_of_thought
    {
        return guarded(s, "cheap", Some("r499"));
    }
    guarded(s, "standard", None)
}
