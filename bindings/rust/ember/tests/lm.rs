//! Language models through the Rust binding: stories260K converted by the tests'
//! convert_lm_models fixture (EMBER_TEST_MODELS/stories260K.ember) against the golden
//! greedy run in shared/models/lm/stories260K.prompt.golden.json (read here, with a
//! small JSON reader: the crate has no dependencies). Without the environment variables
//! the tests print a note and pass without checking.
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

use ember::{
    EncodeFlags, GenerateOptions, Generated, Generator, GeneratorOptions, Model, SamplerOptions, Status, StopReason,
};

fn env_dir(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => {
            eprintln!("skipped: {} is not set (run through CTest: ctest -L bindings)", var);
            None
        }
    }
}

struct Golden {
    prompt: String,
    prompt_ids: Vec<i32>,
    greedy_ids: Vec<i32>,
    text: String,
}

/// The text right after `"key":` in a JSON document (keys of the golden file are unique).
fn json_value<'a>(doc: &'a str, key: &str) -> &'a str {
    let at = doc.find(&format!("\"{}\"", key)).unwrap_or_else(|| panic!("golden file: no \"{}\"", key));
    let rest = &doc[at + key.len() + 2..];
    rest[rest.find(':').expect("':' after a key") + 1..].trim_start()
}

fn json_ints(doc: &str, key: &str) -> Vec<i32> {
    let v = json_value(doc, key);
    assert!(v.starts_with('['), "golden file: \"{}\" is not an array", key);
    v[1..v.find(']').expect("']'")]
        .split(',')
        .map(|s| s.trim().parse().unwrap_or_else(|e| panic!("golden file: \"{}\": {:?}: {}", key, s, e)))
        .collect()
}

fn json_string(doc: &str, key: &str) -> String {
    let v = json_value(doc, key);
    assert!(v.starts_with('"'), "golden file: \"{}\" is not a string", key);
    let mut out = String::new();
    let mut chars = v[1..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return out,
            '\\' => match chars.next().expect("escape") {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let code = u32::from_str_radix(&hex, 16).expect("\\u escape");
                    out.push(char::from_u32(code).expect("a \\u escape outside the surrogates"));
                }
                other => out.push(other), // \" \\ \/
            },
            c => out.push(c),
        }
    }
    panic!("golden file: unterminated string \"{}\"", key)
}

/// The model path and the golden run, or None (skipped) outside CTest.
fn setup() -> Option<(PathBuf, Golden)> {
    let models = env_dir("EMBER_TEST_MODELS")?;
    let shared = env_dir("EMBER_SHARED_DIR")?;
    let doc = std::fs::read_to_string(shared.join("models/lm/stories260K.prompt.golden.json")).expect("golden file");
    let g = Golden {
        prompt: json_string(&doc, "prompt"),
        prompt_ids: json_ints(&doc, "prompt_ids"),
        greedy_ids: json_ints(&doc, "greedy_ids"),
        text: json_string(&doc, "text"),
    };
    assert!(!g.prompt_ids.is_empty() && !g.greedy_ids.is_empty() && !g.text.is_empty());
    Some((models.join("stories260K.ember"), g))
}

fn feed_prompt(gen: &mut Generator<'_>, g: &Golden) {
    let ids = gen.tokenizer().unwrap().encode(&g.prompt, EncodeFlags::ADD_BOS).unwrap();
    assert_eq!(ids, g.prompt_ids, "encode({:?})", g.prompt);
    gen.feed(&ids).unwrap();
}

/// Truncates to the prompt minus its last token and feeds that again (a truncate
/// forgets the logits, which sampling needs).
fn rewind_to_prompt(gen: &mut Generator<'_>, g: &Golden) {
    let n = g.prompt_ids.len();
    gen.truncate(n as i64 - 1).unwrap();
    assert_eq!(gen.logits().unwrap_err().status, Status::InvalidArgument);
    gen.feed(&g.prompt_ids[n - 1..]).unwrap();
}

fn argmax(v: &[f32]) -> i32 {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b }) as i32
}

fn max_tokens(n: usize) -> GenerateOptions {
    GenerateOptions { max_tokens: n, ..Default::default() }
}

#[test]
fn greedy_generation_matches_golden_and_streams() {
    let (path, g) = match setup() {
        Some(s) => s,
        None => return,
    };
    let model = Model::open(path).unwrap();
    let session = model.session().unwrap();
    let mut gen = session.generator().unwrap();
    feed_prompt(&mut gen, &g);
    let logits = gen.logits().unwrap();
    assert_eq!(logits.len(), 512);
    assert_eq!(argmax(logits), g.greedy_ids[0]);

    let (mut streamed, mut text) = (Vec::new(), Vec::new());
    let out = gen
        .generate_with(&max_tokens(g.greedy_ids.len()), |id, piece| {
            streamed.push(id);
            text.extend_from_slice(piece);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(out, Generated { ids: g.greedy_ids.clone(), stop: StopReason::Length });
    assert_eq!(streamed, out.ids, "the callback streams the returned ids");
    let tok = gen.tokenizer().unwrap();
    let prompt_text = tok.decode(&g.prompt_ids).unwrap();
    assert_eq!(prompt_text + &String::from_utf8(text).unwrap(), g.text);
    let all: Vec<i32> = g.prompt_ids.iter().chain(&out.ids).copied().collect();
    assert_eq!(tok.decode(&all).unwrap(), g.text);
    assert_eq!((gen.position(), gen.context()), ((g.prompt_ids.len() + out.ids.len()) as i64, 512));

    // Roll back and regenerate without a callback: the same ids.
    rewind_to_prompt(&mut gen, &g);
    assert_eq!(gen.generate(&max_tokens(g.greedy_ids.len())).unwrap().ids, g.greedy_ids);
}

#[test]
fn tokenizer_round_trip() {
    let (path, _) = match setup() {
        Some(s) => s,
        None => return,
    };
    let model = Model::open(path).unwrap();
    let tok = model.tokenizer().unwrap();
    drop(model); // the tokenizer copies what it needs: it outlives the model
    let info = tok.info().unwrap();
    assert_eq!((info.vocab_size, info.bos, info.eos), (512, 1, 2));
    for text in [
        "Once upon a time",
        "",
        "Lily and Ben played in the park.\nThe end.",
        "  two  spaces",
        "héllo wörld, ünïcode → 日本語 😀",
    ] {
        let ids = tok.encode(text, EncodeFlags::ADD_BOS).unwrap();
        assert_eq!(ids[0], info.bos, "{:?}", text);
        assert_eq!(tok.decode(&ids).unwrap(), text);
        assert_eq!(tok.decode_bytes(&ids).unwrap(), text.as_bytes());
    }
    let special = tok.encode("<s>", EncodeFlags::PARSE_SPECIAL).unwrap();
    assert_eq!(special.last(), Some(&info.bos));
    assert_ne!(tok.encode("<s>", EncodeFlags::NONE).unwrap(), special);
    let both = tok.encode("<s>", EncodeFlags::ADD_BOS | EncodeFlags::PARSE_SPECIAL).unwrap();
    assert_eq!(both[0], info.bos);
    // A tokenizer is Send + Sync: encode from another thread.
    let ids = std::thread::scope(|s| s.spawn(|| tok.encode("Once upon a time", EncodeFlags::ADD_BOS)).join())
        .unwrap()
        .unwrap();
    assert_eq!(ids, vec![1, 403, 407, 261, 378]);
}

#[test]
fn seeded_sampler_is_reproducible() {
    let (path, g) = match setup() {
        Some(s) => s,
        None => return,
    };
    let model = Model::open(path).unwrap();
    let session = model.session().unwrap();
    let mut gen = session.generator().unwrap();
    feed_prompt(&mut gen, &g);
    let mut sampled = |seed: u64| {
        rewind_to_prompt(&mut gen, &g);
        gen.set_sampler(&SamplerOptions { temperature: 1.0, top_k: 40, top_p: 0.9, seed }).unwrap();
        let out = gen.generate(&GenerateOptions { max_tokens: 40, ignore_eos: true }).unwrap();
        assert_eq!(out.ids.len(), 40);
        out.ids
    };
    let (a, b, c) = (sampled(42), sampled(42), sampled(7));
    assert_eq!(a, b, "the same seed twice");
    assert_ne!(a, c, "seeds 42 and 7");
    let bad = SamplerOptions { temperature: 1.0, top_p: f32::NAN, ..Default::default() };
    assert_eq!(gen.set_sampler(&bad).unwrap_err().status, Status::InvalidArgument);
    gen.set_sampler(&SamplerOptions::default()).unwrap(); // greedy
    let want = argmax(gen.logits().unwrap());
    assert_eq!(gen.sample().unwrap(), want);
}

#[test]
fn callback_stop_panic_and_context() {
    let (path, g) = match setup() {
        Some(s) => s,
        None => return,
    };
    let model = Model::open(path).unwrap();
    let session = model.session().unwrap();
    let mut gen = session.generator().unwrap();
    feed_prompt(&mut gen, &g);
    let mut n = 0;
    let out = gen
        .generate_with(&GenerateOptions::default(), |_, _| {
            n += 1;
            if n < 3 {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        })
        .unwrap();
    assert_eq!(out, Generated { ids: g.greedy_ids[..3].to_vec(), stop: StopReason::Callback });

    // A panicking callback: generation stops, the panic resumes out of generate_with,
    // and the generator is still usable (the token was fed).
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        let _ = gen.generate_with(&GenerateOptions::default(), |id, _| panic!("boom at {}", id));
    }));
    let payload = caught.expect_err("the callback's panic resumes");
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some(&*format!("boom at {}", g.greedy_ids[3])));
    assert_eq!(gen.position(), (g.prompt_ids.len() + 4) as i64);
    assert_eq!(gen.generate(&max_tokens(4)).unwrap().ids, g.greedy_ids[4..8]);

    // A callback that reaches another generator of the same session gets an error.
    let mut other = session.generator().unwrap();
    let mut inner = None;
    let out = gen
        .generate_with(&max_tokens(1), |_, _| {
            inner = Some(other.feed(&[1]));
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(out.ids.len(), 1);
    assert_eq!(inner.unwrap().unwrap_err().status, Status::InvalidArgument);
    drop(other);

    // A full context: 5 prompt tokens + 3 fed; the 4th is emitted, not fed.
    let mut small = session.generator_with(&GeneratorOptions { context: 8, ..Default::default() }).unwrap();
    feed_prompt(&mut small, &g);
    assert_eq!(
        small.generate(&GenerateOptions::default()).unwrap(),
        Generated { ids: g.greedy_ids[..4].to_vec(), stop: StopReason::Context }
    );
}

#[test]
fn errors() {
    let (path, g) = match setup() {
        Some(s) => s,
        None => return,
    };
    let model = Model::open(&path).unwrap();
    let session = model.session().unwrap();
    let mut gen = session.generator_with(&GeneratorOptions { context: 16, all_logits: false }).unwrap();
    assert_eq!(gen.generate(&GenerateOptions::default()).unwrap_err().status, Status::InvalidArgument);
    let e = gen.feed(&[1, 403, 512]).unwrap_err();
    assert!(e.status == Status::InvalidArgument && e.message.contains("512"), "{}", e);
    let e = gen.feed(&[1; 17]).unwrap_err();
    assert!(e.status == Status::InvalidArgument && e.message.contains("context overflow"), "{}", e);
    assert_eq!(gen.feed(&[]).unwrap_err().status, Status::InvalidArgument);
    assert_eq!(gen.position(), 0, "failed feeds feed nothing");
    assert_eq!(gen.truncate(1).unwrap_err().status, Status::InvalidArgument);
    assert_eq!(gen.tokenizer().unwrap().decode(&[5, 600]).unwrap_err().status, Status::InvalidArgument);
    feed_prompt(&mut gen, &g); // still usable
    drop(gen);

    // Not a language model.
    let models = path.parent().unwrap();
    let mnist = Model::open(models.join("mnist-8.ember")).unwrap();
    let s = mnist.session().unwrap();
    let e = s.generator().err().expect("a generator on mnist");
    assert!(e.status == Status::InvalidArgument && e.message.contains("not a language model"), "{}", e);
    assert_eq!(mnist.tokenizer().err().expect("mnist's tokenizer").status, Status::NotFound);
}

#[test]
fn generators_on_threads() {
    let (path, g) = match setup() {
        Some(s) => s,
        None => return,
    };
    let model = Model::open(path).unwrap();
    // A Model is Send + Sync: one session and generator per thread, in parallel.
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let session = model.session().unwrap();
                    let mut gen = session.generator().unwrap();
                    (0..3)
                        .map(|_| {
                            gen.truncate(0).unwrap();
                            gen.feed(&g.prompt_ids).unwrap();
                            gen.generate(&max_tokens(g.greedy_ids.len())).unwrap().ids
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            assert!(h.join().unwrap().iter().all(|ids| *ids == g.greedy_ids));
        }
    });
    // Two generators sharing one session, interleaved on its thread: independent caches.
    let session = model.session().unwrap();
    let (mut a, mut b) = (session.generator().unwrap(), session.generator().unwrap());
    a.feed(&g.prompt_ids).unwrap();
    b.feed(&g.prompt_ids).unwrap();
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    for _ in 0..g.greedy_ids.len() {
        got_a.extend(a.generate(&max_tokens(1)).unwrap().ids);
        got_b.extend(b.generate(&max_tokens(1)).unwrap().ids);
    }
    assert_eq!((got_a, got_b), (g.greedy_ids.clone(), g.greedy_ids.clone()));
}
