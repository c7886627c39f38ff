//! Protobuf schemas: compiling a registered schema (`.proto` text, or the base64 of a
//! serialized `FileDescriptorProto` as Confluent's serializers send it) with its imports —
//! other subjects' schemas named by references, Google's well-known types built in — and
//! the canonical text that decides identity: the compiled file printed back as `.proto`, so
//! two schemas that differ only in comments, whitespace or the form they were sent in are
//! one schema.
//!
//! Compatibility between two versions is in [`compat`]; reading a record's message by
//! Confluent's message indexes is [`Protobuf::message`].

pub mod compat;
mod print;

use std::collections::HashMap;

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{DescriptorPool, FileDescriptor, MessageDescriptor};
use protox::file::{File, FileResolver, GoogleFileResolver};

use super::kind::{InvalidSchema, SchemaType};
use super::references::{Dependencies, Reference};

/// The file name a schema sent as text is compiled under (imports never use it).
const MAIN_FILE: &str = "meshmart/registered-schema.proto";
/// The deepest nesting of braces accepted in `.proto` text: the parser recurses per level.
const MAX_NESTING: usize = 64;

/// A compiled Protobuf schema: the descriptors of its file and of every file it imports.
#[derive(Clone, Debug)]
pub struct Protobuf {
    pool: DescriptorPool,
    file: String,
    /// The subject version each imported file came from (by import name).
    origins: HashMap<String, (String, i32)>,
}

impl Protobuf {
    /// Compiles `text` with the files its references name (by import path).
    pub fn compile(
        text: &str,
        references: &[Reference],
        dependencies: &Dependencies,
    ) -> Result<Self, InvalidSchema> {
        let imports = imports(references, dependencies)?;
        let origins = imports
            .iter()
            .map(|(name, (subject, version, _))| (name.clone(), (subject.clone(), *version)))
            .collect();
        let imports: HashMap<String, String> = imports
            .into_iter()
            .map(|(name, (_, _, text))| (name, text))
            .collect();
        let main = main_file(text)?;
        let file = main.name().to_string();
        if imports.contains_key(&file) {
            return Err(InvalidSchema(format!(
                "the schema's file name `{file}` is also the name of one of its references"
            )));
        }
        let mut compiler = protox::Compiler::with_file_resolver(Files {
            main: Some(main),
            imports,
            google: GoogleFileResolver::new(),
        });
        compiler.include_imports(true);
        // Comments and positions are no part of the schema (nor of its serialized form).
        compiler.include_source_info(false);
        compiler
            .open_file(&file)
            .map_err(|e| InvalidSchema(describe(&e, text)))?;
        // From the file set, which (unlike the compiler's own pool) leaves out source info.
        let pool = DescriptorPool::from_file_descriptor_set(compiler.file_descriptor_set())
            .map_err(|e| InvalidSchema(format!("not a valid Protobuf schema: {e}")))?;
        Ok(Self {
            pool,
            file,
            origins,
        })
    }

    /// The schema's own file.
    pub fn file(&self) -> FileDescriptor {
        self.pool
            .get_file_by_name(&self.file)
            .expect("the compiled file is in its pool")
    }

    /// The canonical `.proto` text of the schema's file.
    pub fn canonical(&self) -> String {
        print::file(self.file().file_descriptor_proto())
    }

    /// The schema's file as Confluent's `format=serialized`: base64 of its
    /// `FileDescriptorProto`.
    pub fn serialized(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.file().encode_to_vec())
    }

    /// The message Confluent's message indexes name: `[0]` the file's first message,
    /// `[1, 2]` the third message nested in the second.
    pub fn message(&self, indexes: &[i32]) -> Option<MessageDescriptor> {
        let (first, nested) = indexes.split_first()?;
        let mut message = self.file().messages().nth(usize::try_from(*first).ok()?)?;
        for index in nested {
            let child = message
                .child_messages()
                .nth(usize::try_from(*index).ok()?)?;
            message = child;
        }
        Some(message)
    }
}

/// The schema's own file: `.proto` text, or a base64 `FileDescriptorProto`.
fn main_file(text: &str) -> Result<File, InvalidSchema> {
    let trimmed = text.trim();
    let looks_serialized = !trimmed.is_empty()
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if looks_serialized
        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(trimmed)
        && let Ok(proto) = prost_types::FileDescriptorProto::decode(bytes.as_slice())
    {
        let mut proto = proto;
        if proto.name.as_deref().is_none_or(str::is_empty) {
            proto.name = Some(MAIN_FILE.to_string());
        }
        return Ok(File::from_file_descriptor_proto(proto));
    }
    if let Some(line) = too_deep(text) {
        return Err(InvalidSchema(format!(
            "the schema nests deeper than {MAX_NESTING} levels (line {line})"
        )));
    }
    File::from_source(MAIN_FILE, text).map_err(|e| InvalidSchema(describe(&e, text)))
}

/// The line where braces first nest deeper than [`MAX_NESTING`], outside strings and
/// comments, if they do.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '"' | '\'' => {
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' => {
                            chars.next();
                        }
                        '\n' => {
                            line += 1;
                            break;
                        }
                        _ if inner == c => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for inner in chars.by_ref() {
                    if inner == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut star = false;
                for inner in chars.by_ref() {
                    if inner == '\n' {
                        line += 1;
                    }
                    if star && inner == '/' {
                        break;
                    }
                    star = inner == '*';
                }
            }
            '{' | '[' | '(' | '<' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(line);
                }
            }
            '}' | ']' | ')' | '>' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// A compiler error as one line, with the line and column it points at when it has one.
fn describe(error: &protox::Error, text: &str) -> String {
    use miette::Diagnostic as _;
    let place = error
        .labels()
        .and_then(|mut labels| labels.next())
        .filter(|_| error.file().is_none_or(|file| file == MAIN_FILE))
        .map(|label| {
            let before = text.get(..label.offset()).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
            format!(" (line {line}, column {column})")
        })
        .unwrap_or_default();
    let file = match error.file() {
        Some(file) if file != MAIN_FILE => format!(" in `{file}`"),
        _ => String::new(),
    };
    format!("not a valid Protobuf schema{file}: {error}{place}")
}

/// The imported files by the name they are imported as, from the schema's references and
/// those of every schema they reach.
fn imports(
    references: &[Reference],
    dependencies: &Dependencies,
) -> Result<HashMap<String, (String, i32, String)>, InvalidSchema> {
    let mut imports: HashMap<String, (String, i32, String)> = HashMap::new();
    let mut add = |reference: &Reference| -> Result<(), InvalidSchema> {
        let Some(dependency) = dependencies.get(reference) else {
            return Err(InvalidSchema(format!(
                "reference `{}` (subject '{}' version {}) was not loaded",
                reference.name, reference.subject, reference.version
            )));
        };
        if dependency.schema_type != SchemaType::Protobuf {
            return Err(InvalidSchema(format!(
                "reference `{}`: subject '{}' version {} is a {} schema; a Protobuf schema can only import Protobuf schemas",
                reference.name,
                reference.subject,
                reference.version,
                dependency.schema_type.as_str()
            )));
        }
        match imports.get(&reference.name) {
            Some((subject, version, _))
                if (subject.as_str(), *version)
                    != (reference.subject.as_str(), reference.version) =>
            {
                Err(InvalidSchema(format!(
                    "import `{}` names two schemas: subject '{subject}' version {version} and subject '{}' version {}",
                    reference.name, reference.subject, reference.version
                )))
            }
            _ => {
                imports.insert(
                    reference.name.clone(),
                    (
                        reference.subject.clone(),
                        reference.version,
                        dependency.schema.clone(),
                    ),
                );
                Ok(())
            }
        }
    };
    for reference in references {
        add(reference)?;
    }
    for dependency in dependencies.all() {
        for reference in &dependency.references {
            add(reference)?;
        }
    }
    Ok(imports)
}

/// The files a compilation may open: the schema's own, its imports, Google's.
struct Files {
    main: Option<File>,
    imports: HashMap<String, String>,
    google: GoogleFileResolver,
}

impl FileResolver for Files {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if let Some(main) = self.main.as_ref().filter(|main| main.name() == name) {
            return Ok(main.clone());
        }
        if let Some(text) = self.imports.get(name) {
            return File::from_source(name, text);
        }
        self.google.open_file(name)
    }
}

#[cfg(test)]
mod tests;
