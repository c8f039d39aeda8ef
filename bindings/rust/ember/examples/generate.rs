//! Streams text from a language model converted by `ember convert`:
//!
//!   ember convert stories260K.bin --tokenizer tok512.bin -o stories260K.ember
//!   cargo run --example generate -- stories260K.ember "Once upon a time" [N]
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

fn run(model_path: &str, prompt: &str, n: usize) -> ember::Result<()> {
    let model = ember::Model::open(model_path)?;
    let session = model.session()?;
    let mut gen = session.generator()?; // borrows the session: dropped first
    let tok = model.tokenizer()?;
    let ids = tok.encode(prompt, ember::EncodeFlags::ADD_BOS)?;
    print!("{}", tok.decode(&ids)?);
    gen.feed(&ids)?;
    let mut stdout = std::io::stdout();
    let out = gen.generate_with(&ember::GenerateOptions { max_tokens: n, ..Default::default() }, |_id, piece| {
        // Byte tokens may split a UTF-8 character: write the bytes as they come.
        let _ = stdout.write_all(piece).and_then(|_| stdout.flush());
        ControlFlow::Continue(())
    })?;
    println!();
    eprintln!("{} tokens (stop: {:?})", out.ids.len(), out.stop);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.len() > 3 {
        eprintln!("usage: generate MODEL.ember [PROMPT] [N]");
        return ExitCode::from(2);
    }
    let prompt = args.get(1).map_or("Once upon a time", String::as_str);
    let n = match args.get(2).map_or(Ok(60), |s| s.parse()) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("generate: N: {}", e);
            return ExitCode::from(2);
        }
    };
    match run(&args[0], prompt, n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("generate: {}", e);
            ExitCode::FAILURE
        }
    }
}
