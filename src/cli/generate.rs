//! `mailsetup generate`: the man page and shell completions, rendered from
//! the same flag definitions as `--help`.

use std::io::Write;

use clap::CommandFactory;

use super::args::GenerateArgs;
use super::{Cli, Fatal, Outcome};

/// Writes the requested document to stdout.
pub fn run(a: GenerateArgs) -> Result<Outcome, Fatal> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let shell = match a.what.as_str() {
        "man" => {
            clap_mangen::Man::new(cmd).render(&mut out)?;
            std::io::stdout().write_all(&out)?;
            return Ok(Outcome::Success);
        }
        "bash" => clap_complete::Shell::Bash,
        "zsh" => clap_complete::Shell::Zsh,
        "fish" => clap_complete::Shell::Fish,
        "elvish" => clap_complete::Shell::Elvish,
        "powershell" => clap_complete::Shell::PowerShell,
        other => {
            return Err(Fatal::msg(format!(
                "cannot generate '{other}': choose man, bash, zsh, fish, elvish or powershell"
            )));
        }
    };
    clap_complete::generate(shell, &mut cmd, "mailsetup", &mut out);
    std::io::stdout().write_all(&out)?;
    Ok(Outcome::Success)
}
