/**
 * The forwarder behind test/support/serviceProxy.ts, in a process of its own so that it keeps
 * forwarding while the test process blocks on a client it runs synchronously.
 * Usage: serviceProxyMain.ts <listen address> <port> <target address> <target port>
 */
import * as net from "node:net";

const [listenAddress, port, targetAddress, targetPort] = process.argv.slice(2);
const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort), targetAddress);
    const close = () => {
        client.destroy();
        upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
    client.pipe(upstream).pipe(client);
});
server.listen(Number(port), listenAddress, () => console.log(`forwarding ${listenAddress}:${port} to ${targetAddress}:${targetPort}`));
process.on("SIGTERM", () => process.exit(0));
