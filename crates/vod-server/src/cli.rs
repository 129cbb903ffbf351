//! Command-line interface: parses arguments and runs one command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::{admin, callbacks, jobs, oss, serve};

#[derive(Debug, Parser)]
#[command(
    name = "vodstack",
    version,
    about = "Self-hosted video on demand speaking the Alibaba Cloud VOD and ICE APIs"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command accepts (highest precedence: over file and environment).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// TOML configuration file (default: $VODSTACK_CONFIG, else ./vodstack.toml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite metadata and objects).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Metadata database URL: sqlite://PATH or postgres://...
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Redis URL for cluster-wide throttling.
    #[arg(long, global = true)]
    pub redis_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (API listener and background work) until SIGINT/SIGTERM.
    Serve {
        /// API listener address, e.g. 127.0.0.1:8080.
        #[arg(long)]
        api_addr: Option<String>,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage access keys of the account and its users.
    Keys {
        #[command(subcommand)]
        command: admin::KeysCommand,
    },
    /// Manage RAM users and their policies.
    Users {
        #[command(subcommand)]
        command: admin::UsersCommand,
    },
    /// Inspect and manage background jobs (list, show, retry, cancel).
    Jobs {
        #[command(subcommand)]
        command: jobs::JobsCommand,
    },
    /// OSS endpoint diagnostics (`oss credential`: a scoped upload credential).
    #[command(hide = true)]
    Oss {
        #[command(subcommand)]
        command: oss::OssCommand,
    },
    /// Event callback diagnostics (`callbacks emit-test`: synthetic deliveries).
    #[command(hide = true)]
    Callbacks {
        #[command(subcommand)]
        command: callbacks::CallbacksCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as TOML (secrets masked).
    Dump,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut overrides = Overrides {
        data_dir: cli.global.data_dir.clone(),
        database_url: cli.global.database_url.clone(),
        redis_url: cli.global.redis_url.clone(),
        ..Default::default()
    };
    if let Command::Serve { api_addr } = &cli.command {
        overrides.api_addr = api_addr.clone();
    }
    let config = Config::load(cli.global.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Serve { .. } => serve::serve(config).await,
        Command::Config {
            command: ConfigCommand::Dump,
        } => {
            print!("{}", config.dump()?);
            Ok(())
        }
        Command::Keys { command } => admin::keys(&config, command).await,
        Command::Users { command } => admin::users(&config, command).await,
        Command::Jobs { command } => jobs::run(&config, command).await,
        Command::Oss { command } => oss::run(&config, command).await,
        Command::Callbacks { command } => callbacks::run(&config, command).await,
    }
}
