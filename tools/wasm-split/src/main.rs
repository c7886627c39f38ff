//! Splits the browser bundle where Leptos' `#[lazy_route]`s say, the way `cargo leptos
//! build --split` does, for `scripts/build.sh` (which runs cargo, wasm-bindgen and wasm-opt
//! itself):
//!
//! ```text
//! meshmart-wasm-split INPUT.wasm MAIN_OUT.wasm PKG_DIR OUTPUT_NAME
//! ```
//!
//! Writes the main module (for wasm-bindgen) to `MAIN_OUT.wasm`, and into `PKG_DIR` one
//! `.wasm` per split and shared chunk, the loader `__wasm_split.______________________.js`
//! (the name Leptos' `HydrationScripts` links) and `__wasm_split_manifest.json` (which
//! chunks each lazy route needs, read by the server to preload them with the page).

use std::path::Path;
use std::process::ExitCode;

/// The loader's name as Leptos expects it when files are not hashed.
const LOADER: &str = "__wasm_split.______________________.js";
const MANIFEST: &str = "__wasm_split_manifest.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--version") {
        println!("meshmart-wasm-split {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let [input, main_out, pkg_dir, output_name] = args.as_slice() else {
        eprintln!("usage: meshmart-wasm-split INPUT.wasm MAIN_OUT.wasm PKG_DIR OUTPUT_NAME");
        return ExitCode::from(2);
    };
    match split(
        Path::new(input),
        Path::new(main_out),
        Path::new(pkg_dir),
        output_name,
    ) {
        Ok(chunks) => {
            println!("[split] main module and {chunks} lazily loaded chunks");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("meshmart-wasm-split: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn split(
    input: &Path,
    main_out: &Path,
    pkg_dir: &Path,
    output_name: &str,
) -> Result<usize, Box<dyn std::error::Error>> {
    let wasm = std::fs::read(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
    let link_name = format!("./{LOADER}");
    let main_module = format!("./{output_name}.js");
    let mut options = wasm_split_cli_support::Options::new(&wasm);
    options.output_dir = pkg_dir;
    options.main_out_path = main_out;
    options.link_name = &link_name;
    options.main_module = &main_module;
    options.target.web();
    let split = wasm_split_cli_support::transform(options)
        .map_err(|e| format!("splitting {}: {e:#}", input.display()))?;
    let manifest = serde_json::to_string_pretty(&split.prefetch_map)?;
    std::fs::write(pkg_dir.join(MANIFEST), manifest)?;
    Ok(split.split_modules.len())
}
